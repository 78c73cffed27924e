//! Managed user attributes: the organisation data Entra Connect and HR-driven provisioning keep
//! in sync (department, title, employee ID, …). Only attributes written in git are enforced.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// The managed attributes, as Graph names them (`microsoft.graph.user` properties).
pub const USER_ATTRIBUTES: [&str; 10] = [
    "department",
    "jobTitle",
    "employeeId",
    "companyName",
    "officeLocation",
    "city",
    "country",
    "mobilePhone",
    "preferredLanguage",
    "employeeType",
];

/// Organisation data of a user. Each attribute set here is enforced (drift is reported and
/// corrected); an attribute left unset is not managed.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, Hash)]
#[serde(rename_all = "camelCase")]
pub struct UserAttributes {
    /// The department, e.g. `Finance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub department: Option<String>,
    /// The job title, e.g. `Accountant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub job_title: Option<String>,
    /// The employee identifier from HR.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16))]
    pub employee_id: Option<String>,
    /// The company name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub company_name: Option<String>,
    /// The office, e.g. `Building 4, room 12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub office_location: Option<String>,
    /// The city.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub city: Option<String>,
    /// The country or region, e.g. `United States`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub country: Option<String>,
    /// The mobile phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub mobile_phone: Option<String>,
    /// The preferred language, ISO 639-1 with a region, e.g. `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z]{2,3}(-[A-Za-z]{2,4})?$')").message("preferredLanguage must be a language tag such as en-US or de-DE"))]
    pub preferred_language: Option<String>,
    /// The employee type, e.g. `Employee` or `Contractor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub employee_type: Option<String>,
}

impl UserAttributes {
    /// The value set for the attribute Graph calls `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        let v = match name {
            "department" => &self.department,
            "jobTitle" => &self.job_title,
            "employeeId" => &self.employee_id,
            "companyName" => &self.company_name,
            "officeLocation" => &self.office_location,
            "city" => &self.city,
            "country" => &self.country,
            "mobilePhone" => &self.mobile_phone,
            "preferredLanguage" => &self.preferred_language,
            "employeeType" => &self.employee_type,
            _ => return None,
        };
        v.as_deref()
    }

    /// Sets the attribute Graph calls `name` (unknown names are ignored).
    pub fn set(&mut self, name: &str, value: Option<String>) {
        let slot = match name {
            "department" => &mut self.department,
            "jobTitle" => &mut self.job_title,
            "employeeId" => &mut self.employee_id,
            "companyName" => &mut self.company_name,
            "officeLocation" => &mut self.office_location,
            "city" => &mut self.city,
            "country" => &mut self.country,
            "mobilePhone" => &mut self.mobile_phone,
            "preferredLanguage" => &mut self.preferred_language,
            "employeeType" => &mut self.employee_type,
            _ => return,
        };
        *slot = value;
    }
}

/// No attribute set (what an [`Attributes`] without any reads as).
static NO_ATTRIBUTES: UserAttributes = UserAttributes {
    department: None,
    job_title: None,
    employee_id: None,
    company_name: None,
    office_location: None,
    city: None,
    country: None,
    mobile_phone: None,
    preferred_language: None,
    employee_type: None,
};

/// [`UserAttributes`] held only while one is set: most users set none, and ten empty slots in
/// every listed user (and every planned create) would cost 240 bytes each. It reads and writes
/// like `UserAttributes` (`Deref`), and serialises, deserialises and describes itself (CRD
/// schema) exactly as `UserAttributes` does.
#[derive(Clone, Debug, Default)]
pub struct Attributes(Option<Box<UserAttributes>>);

impl Attributes {
    /// The value set for the attribute Graph calls `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.as_deref().and_then(|a| a.get(name))
    }

    /// Sets the attribute Graph calls `name` (unknown names are ignored); nothing is allocated
    /// to clear an attribute of a user that sets none.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        match (&mut self.0, value) {
            (None, None) => {}
            (Some(a), value) => a.set(name, value),
            (None, Some(value)) => {
                let mut a = UserAttributes::default();
                a.set(name, Some(value));
                if a != NO_ATTRIBUTES {
                    self.0 = Some(Box::new(a));
                }
            }
        }
    }

    /// Whether none is set.
    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(|a| *a == NO_ATTRIBUTES)
    }
}

impl From<UserAttributes> for Attributes {
    fn from(a: UserAttributes) -> Self {
        if a == NO_ATTRIBUTES {
            Attributes(None)
        } else {
            Attributes(Some(Box::new(a)))
        }
    }
}

impl std::ops::Deref for Attributes {
    type Target = UserAttributes;

    fn deref(&self) -> &UserAttributes {
        self.0.as_deref().unwrap_or(&NO_ATTRIBUTES)
    }
}

impl std::ops::DerefMut for Attributes {
    fn deref_mut(&mut self) -> &mut UserAttributes {
        self.0.get_or_insert_with(Box::default)
    }
}

impl PartialEq for Attributes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Attributes {}

impl std::hash::Hash for Attributes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }
}

impl Serialize for Attributes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        UserAttributes::deserialize(d).map(Attributes::from)
    }
}

impl schemars::JsonSchema for Attributes {
    fn inline_schema() -> bool {
        UserAttributes::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        UserAttributes::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        UserAttributes::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        UserAttributes::json_schema(generator)
    }
}

/// Values an AppAssignment sets for all its users (an entry's own value wins).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserDefaults {
    /// Usage location for users whose entry sets none (before a LicensePolicy's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Z]{2}$')").message("defaults.usageLocation must be two upper-case letters (an ISO 3166 country code such as US, GB or DE)"))]
    pub usage_location: Option<String>,
    /// Attributes for users whose entry does not set them.
    #[serde(default, flatten)]
    pub attributes: Attributes,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_managed_attribute_can_be_set_and_read_by_its_graph_name() {
        let mut a = UserAttributes::default();
        for (i, name) in USER_ATTRIBUTES.iter().enumerate() {
            a.set(name, Some(format!("v{i}")));
        }
        for (i, name) in USER_ATTRIBUTES.iter().enumerate() {
            assert_eq!(a.get(name), Some(format!("v{i}").as_str()), "{name}");
        }
        let json = serde_json::to_value(&a).unwrap();
        for name in USER_ATTRIBUTES {
            assert!(json.get(name).is_some(), "{name} serialises as {json}");
        }
    }

    #[test]
    fn compact_attributes_hold_nothing_until_one_is_set_and_serialise_alike() {
        let mut a = Attributes::default();
        a.set("city", None);
        assert!(a.0.is_none() && a.is_empty());
        assert_eq!(serde_json::to_value(&a).unwrap(), serde_json::json!({}));
        a.set("city", Some("Oslo".into()));
        assert_eq!(a.get("city"), Some("Oslo"));
        assert_eq!(a.city.as_deref(), Some("Oslo"));
        let full = UserAttributes {
            city: Some("Oslo".into()),
            ..UserAttributes::default()
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            serde_json::to_value(&full).unwrap()
        );
        let back: Attributes = serde_json::from_value(serde_json::json!({"city": "Oslo"})).unwrap();
        assert_eq!(back, a);
        // Set through `DerefMut` and cleared again: equal to one never set.
        a.city = None;
        assert_eq!(a, Attributes::default());
        assert_eq!(Attributes::from(UserAttributes::default()).0, None);
    }
}
