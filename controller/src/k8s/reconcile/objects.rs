//! The watched kinds, parsed once when their watch event arrives, and turning an object into
//! its typed form.
//!
//! FederatedDomains, AppAssignments and LicensePolicies are watched as [`Cached`] objects:
//! each one is parsed into its type when its event arrives and kept as that (an AppAssignment
//! of 5,000 users is some 2 MB typed, 4 MB as a JSON tree), and every reconcile shares it
//! through an `Arc`. One object that does not deserialise (a manual edit, a schema change)
//! must not fail the list or watch of its kind: it is kept as it came, with the reason, and
//! only that object is reported as invalid. Tenants (small, and the Controller's own kind) are
//! watched as `DynamicObject`s and parsed per reconcile.

use std::borrow::Cow;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ObjectMeta};
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::api::{AppAssignment, FederatedDomain, LicensePolicy, Tenant};
use crate::model::Kind;
use crate::resolve::NamespaceLabels;

/// The `ApiResource` of a kind of this controller (group, version, plural).
pub fn api_resource<K>() -> ApiResource
where
    K: Resource<DynamicType = ()>,
{
    let gvk = GroupVersionKind::gvk(&K::group(&()), &K::version(&()), &K::kind(&()));
    ApiResource::from_gvk_with_plural(&gvk, &K::plural(&()))
}

/// A kind kept in the watch caches as [`Cached`].
pub trait Watched:
    Resource<DynamicType = ()> + DeserializeOwned + Serialize + Clone + Send + Sync + 'static
{
    /// The kind, as statuses name it.
    const KIND: Kind;

    /// Gives back the spare capacity deserialising left (a `Vec` grows by doubling: 5,000
    /// users end in room for 8,192); the object is kept for as long as it exists.
    fn shrink(&mut self) {}
}

impl Watched for FederatedDomain {
    const KIND: Kind = Kind::FederatedDomain;
}

impl Watched for AppAssignment {
    const KIND: Kind = Kind::AppAssignment;

    fn shrink(&mut self) {
        self.spec.users.shrink_to_fit();
    }
}

impl Watched for LicensePolicy {
    const KIND: Kind = Kind::LicensePolicy;
}

/// A watched object that does not read as its kind, as it came, with the reason: it is
/// reported in its own status.
#[derive(Debug, Clone)]
pub struct Unreadable {
    /// The object.
    pub object: DynamicObject,
    /// Why it does not read as its kind.
    pub reason: InvalidObject,
}

impl Unreadable {
    /// The string at `pointer` (`/spec/tenantRef/name`) of its raw JSON.
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        self.object.data.pointer(pointer).and_then(Value::as_str)
    }
}

/// One object of a watched kind, parsed once when its watch event arrived: the typed object,
/// or the object as it came when it does not read as `K`. Cloning shares it.
pub enum Cached<K> {
    /// It parsed.
    Valid(Arc<K>),
    /// It did not.
    Invalid(Arc<Unreadable>),
}

impl<K> Clone for Cached<K> {
    fn clone(&self) -> Self {
        match self {
            Cached::Valid(k) => Cached::Valid(k.clone()),
            Cached::Invalid(u) => Cached::Invalid(u.clone()),
        }
    }
}

impl<K: Watched> std::fmt::Debug for Cached<K> {
    /// Names the object only: its spec can be megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self {
            Cached::Valid(_) => "valid",
            Cached::Invalid(_) => "invalid",
        };
        write!(
            f,
            "{} {}/{} ({state})",
            K::kind(&()),
            self.namespace().unwrap_or_default(),
            self.name_any()
        )
    }
}

impl<K: Watched> Cached<K> {
    /// Parses `value` (a whole object as the API server sends it) into `K`, keeping it as it
    /// came when it does not read as `K`; an error only when it is not even an object with
    /// metadata.
    pub fn from_value(mut value: Value) -> Result<Self, serde_json::Error> {
        // Never read, and per user of an AppAssignment under server-side apply: not parsed.
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        match K::deserialize(&value) {
            Ok(mut k) => {
                k.shrink();
                Ok(Cached::Valid(Arc::new(k)))
            }
            Err(e) => {
                let object = DynamicObject::deserialize(value)?;
                let reason = InvalidObject::of(&object, &e);
                Ok(Cached::Invalid(Arc::new(Unreadable { object, reason })))
            }
        }
    }

    /// A watched object, parsed.
    #[cfg(test)]
    pub fn from_dynamic(object: &DynamicObject) -> Result<Self, serde_json::Error> {
        Self::from_value(serde_json::to_value(object)?)
    }

    /// The typed object, or why there is none.
    pub fn parsed(&self) -> Result<&Arc<K>, &Arc<Unreadable>> {
        match self {
            Cached::Valid(k) => Ok(k),
            Cached::Invalid(u) => Err(u),
        }
    }

    /// A string field: from the typed object, or from the raw JSON at `pointer` of one that did
    /// not parse (so that an invalid object still reaches its Tenant, which reports it).
    pub fn field<'a>(
        &'a self,
        typed: impl FnOnce(&'a K) -> Option<&'a str>,
        pointer: &str,
    ) -> Option<&'a str> {
        match self {
            Cached::Valid(k) => typed(k),
            Cached::Invalid(u) => u.str_at(pointer),
        }
    }

    /// The object as a `DynamicObject` (for a status that keeps every other field). A copy: for
    /// the small kinds and the failure path only.
    pub fn to_dynamic(&self) -> DynamicObject {
        match self {
            Cached::Invalid(u) => u.object.clone(),
            Cached::Valid(k) => {
                let mut data = serde_json::to_value(k.as_ref()).unwrap_or_default();
                if let Some(map) = data.as_object_mut() {
                    for field in ["apiVersion", "kind", "metadata"] {
                        map.remove(field);
                    }
                }
                let mut object = DynamicObject::new(&k.name_any(), &api_resource::<K>());
                object.metadata = k.meta().clone();
                object.data = data;
                object
            }
        }
    }

    /// The same object from `store` when it has not changed since (same uid and
    /// resourceVersion): a relist then keeps one copy of each object, not two until it is done.
    pub fn reuse(self, store: &Store<Cached<K>>) -> Self {
        let version = |o: &Cached<K>| (o.meta().uid.clone(), o.meta().resource_version.clone());
        let key = kube::runtime::reflector::ObjectRef::from_obj(&self);
        match store.get(&key) {
            Some(known) if version(&known) == version(&self) => known.as_ref().clone(),
            _ => self,
        }
    }
}

impl<'de, K: Watched> Deserialize<'de> for Cached<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Cached::from_value(value).map_err(serde::de::Error::custom)
    }
}

impl<K: Watched> Resource for Cached<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        match self {
            Cached::Valid(k) => k.meta(),
            Cached::Invalid(u) => &u.object.metadata,
        }
    }

    /// Copies the object first unless this is its only holder (as when a watch event has just
    /// been read, before any cache holds it).
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Cached::Valid(k) => Arc::make_mut(k).meta_mut(),
            Cached::Invalid(u) => &mut Arc::make_mut(u).object.metadata,
        }
    }
}

/// Watch events with each relisted object that has not changed replaced by the one `store`
/// already holds ([`Cached::reuse`]).
pub fn reuse_unchanged<K: Watched>(
    events: impl Stream<Item = watcher::Event<Cached<K>>> + Send + 'static,
    store: Store<Cached<K>>,
) -> impl Stream<Item = watcher::Event<Cached<K>>> + Send + 'static {
    events.map(move |event| match event {
        watcher::Event::InitApply(o) => watcher::Event::InitApply(o.reuse(&store)),
        other => other,
    })
}

/// Read-only caches of the four kinds, filled by the controller's watches. Secrets and
/// ConfigMaps are watched for their metadata only (to trigger reconciles); their values are
/// read when a reconcile needs them.
#[derive(Clone)]
pub struct Stores {
    /// Tenants.
    pub tenants: Store<DynamicObject>,
    /// FederatedDomains.
    pub domains: Store<Cached<FederatedDomain>>,
    /// AppAssignments.
    pub assignments: Store<Cached<AppAssignment>>,
    /// LicensePolicies.
    pub policies: Store<Cached<LicensePolicy>>,
    /// Namespaces (metadata only), for their labels: `allowedAssignments` selectors. Empty
    /// when the controller watches one namespace (nothing crosses it then).
    pub namespaces: Store<PartialObjectMeta<Namespace>>,
}

impl Cached<AppAssignment> {
    /// `spec.domainRef.name`.
    pub fn domain_name(&self) -> Option<&str> {
        self.field(
            |a| Some(a.spec.domain_ref.name.as_str()),
            "/spec/domainRef/name",
        )
    }

    /// The namespace its `spec.domainRef` points into (its own unless it names one), also when
    /// it does not parse, so that it is still placed.
    pub fn domain_namespace(&self) -> String {
        self.field(
            |a| a.spec.domain_ref.namespace.as_deref(),
            "/spec/domainRef/namespace",
        )
        .map(str::to_owned)
        .unwrap_or_else(|| self.namespace().unwrap_or_default())
    }
}

/// A watched object that does not read as its kind (a manual edit, a schema change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} {namespace}/{name} cannot be read: {message}; fix it to match the CRD schema \
     (kubectl explain {kind}) or apply it again from git"
)]
pub struct InvalidObject {
    /// Its kind, as the object says.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// What did not parse.
    pub message: String,
}

impl InvalidObject {
    fn of(obj: &DynamicObject, e: &serde_json::Error) -> Self {
        InvalidObject {
            kind: obj
                .types
                .as_ref()
                .map_or_else(|| "object".to_owned(), |t| t.kind.clone()),
            namespace: obj.namespace().unwrap_or_default(),
            name: obj.name_any(),
            message: e.to_string(),
        }
    }
}

/// Parses a watched object into its kind's type; the error names the object.
pub fn parse<K: DeserializeOwned>(obj: &DynamicObject) -> Result<K, InvalidObject> {
    let invalid = |e: serde_json::Error| InvalidObject::of(obj, &e);
    let value = serde_json::to_value(obj).map_err(invalid)?;
    K::deserialize(&value).map_err(invalid)
}

/// The objects of one Tenant's namespace, plus the AppAssignments of other namespaces that
/// point into it, shared with the caches; the ones that did not parse come back with the
/// reason, so their status can say why.
pub struct NamespaceObjects {
    /// FederatedDomains that parsed.
    pub domains: Vec<Arc<FederatedDomain>>,
    /// AppAssignments that parsed.
    pub assignments: Vec<Arc<AppAssignment>>,
    /// LicensePolicies that parsed.
    pub policies: Vec<Arc<LicensePolicy>>,
    /// Objects that did not parse, with their kind.
    pub invalid: Vec<(Kind, Arc<Unreadable>)>,
    /// Labels of the namespaces of `assignments`.
    pub namespaces: NamespaceLabels,
}

impl NamespaceObjects {
    /// Lets go of the AppAssignments' users once they are planned, keeping each object's
    /// metadata, status and the rest of its spec (what statuses and Events read). The status
    /// writes bring every AppAssignment back through its watch, parsed anew: the copy the
    /// caches held until then must not still be held here, or every user is in memory twice
    /// at the first sync's peak.
    pub fn release_users(&mut self) {
        for a in &mut self.assignments {
            *a = Arc::new(crate::model::without_users(a));
        }
    }
}

/// Sorts `objects` into `valid` and `invalid`.
fn split<K: Watched>(
    objects: Vec<Arc<Cached<K>>>,
    valid: &mut Vec<Arc<K>>,
    invalid: &mut Vec<(Kind, Arc<Unreadable>)>,
) {
    for o in objects {
        match o.parsed() {
            Ok(k) => valid.push(k.clone()),
            Err(u) => invalid.push((K::KIND, u.clone())),
        }
    }
}

impl Stores {
    /// Whether every kind a plan reads has been listed once since this term began, waiting up
    /// to `within` for it. A Tenant's reconcile can start while the lists of its domains,
    /// assignments or policies are still on their way (the Tenant list is the shortest); a
    /// plan on that partial view would read every user of a missing AppAssignment as a leaver.
    /// (The Namespace store, unwatched when one namespace is served, is marked listed empty.)
    /// A watch that fails later keeps its last complete list (and `/readyz` says so); each
    /// term of leadership starts with fresh stores, unlisted.
    pub async fn listed(&self, within: std::time::Duration) -> bool {
        let all = async {
            self.domains.wait_until_ready().await.is_ok()
                && self.assignments.wait_until_ready().await.is_ok()
                && self.policies.wait_until_ready().await.is_ok()
                && self.namespaces.wait_until_ready().await.is_ok()
        };
        tokio::time::timeout(within, all).await.unwrap_or(false)
    }

    /// Every FederatedDomain and LicensePolicy in `namespace`, and every AppAssignment whose
    /// `domainRef` points into it (from any namespace: whether its domain admits it is decided
    /// by `resolve`), with the labels of those AppAssignments' namespaces. Nothing is copied
    /// but the `Arc`s.
    pub fn namespace_objects(&self, namespace: &str) -> NamespaceObjects {
        let mut out = NamespaceObjects {
            domains: Vec::new(),
            assignments: Vec::new(),
            policies: Vec::new(),
            invalid: Vec::new(),
            namespaces: NamespaceLabels::new(),
        };
        let in_ns = |meta: &ObjectMeta| meta.namespace.as_deref() == Some(namespace);
        let assignments = self
            .assignments
            .state_filter(|o| o.domain_namespace() == namespace);
        for o in &assignments {
            let own = o.namespace().unwrap_or_default();
            if let std::collections::btree_map::Entry::Vacant(entry) = out.namespaces.entry(own) {
                let labels = self
                    .namespaces
                    .find(|n| n.name_any() == *entry.key())
                    .map(|n| n.labels().clone())
                    .unwrap_or_default();
                entry.insert(labels);
            }
        }
        split(
            self.domains.state_filter(|o| in_ns(o.meta())),
            &mut out.domains,
            &mut out.invalid,
        );
        split(assignments, &mut out.assignments, &mut out.invalid);
        split(
            self.policies.state_filter(|o| in_ns(o.meta())),
            &mut out.policies,
            &mut out.invalid,
        );
        // Stable order: the plan is deterministic for the same objects.
        out.domains.sort_by_key(|o| o.name_any());
        out.assignments
            .sort_by_key(|o| (o.namespace().unwrap_or_default(), o.name_any()));
        out.policies.sort_by_key(|o| o.name_any());
        out
    }

    /// Every Tenant of the cache (all watched namespaces) that parses.
    pub fn all_tenants(&self) -> Vec<Tenant> {
        self.tenants
            .state()
            .iter()
            .filter_map(|o| parse::<Tenant>(o).ok())
            .collect()
    }

    /// A Tenant from the cache, parsed.
    pub fn tenant(&self, obj: &DynamicObject) -> Result<Tenant, InvalidObject> {
        parse::<Tenant>(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;
    use std::time::Duration;

    fn writer_of<K: Watched>() -> Writer<Cached<K>> {
        Writer::new(())
    }

    #[tokio::test]
    async fn a_view_is_listed_only_when_domains_assignments_and_policies_have_listed() {
        let tenants = Writer::<DynamicObject>::new(api_resource::<Tenant>());
        let mut domains = writer_of::<FederatedDomain>();
        let mut assignments = writer_of::<AppAssignment>();
        let mut policies = writer_of::<LicensePolicy>();
        let mut namespaces = Writer::<PartialObjectMeta<Namespace>>::new(());
        let stores = Stores {
            tenants: tenants.as_reader(),
            domains: domains.as_reader(),
            assignments: assignments.as_reader(),
            policies: policies.as_reader(),
            namespaces: namespaces.as_reader(),
        };
        // One namespace served: the Namespace store is marked listed, empty.
        namespaces.apply_watcher_event(&Event::InitDone);
        let wait = Duration::from_millis(20);
        assert!(!stores.listed(wait).await, "nothing listed yet");
        domains.apply_watcher_event(&Event::InitDone);
        policies.apply_watcher_event(&Event::InitDone);
        assert!(!stores.listed(wait).await, "AppAssignments still listing");
        assignments.apply_watcher_event(&Event::Init);
        assert!(
            !stores.listed(wait).await,
            "a list begun is not a list done"
        );
        assignments.apply_watcher_event(&Event::InitDone);
        assert!(stores.listed(wait).await);
    }

    #[tokio::test]
    async fn a_fed_namespace_store_is_waited_for() {
        let mut domains = writer_of::<FederatedDomain>();
        let mut assignments = writer_of::<AppAssignment>();
        let mut policies = writer_of::<LicensePolicy>();
        domains.apply_watcher_event(&Event::InitDone);
        assignments.apply_watcher_event(&Event::InitDone);
        policies.apply_watcher_event(&Event::InitDone);
        let mut namespaces = Writer::<PartialObjectMeta<Namespace>>::new(());
        let stores = Stores {
            tenants: Writer::<DynamicObject>::new(api_resource::<Tenant>()).as_reader(),
            domains: domains.as_reader(),
            assignments: assignments.as_reader(),
            policies: policies.as_reader(),
            namespaces: namespaces.as_reader(),
        };
        assert!(!stores.listed(Duration::from_millis(20)).await);
        namespaces.apply_watcher_event(&Event::InitDone);
        assert!(stores.listed(Duration::from_millis(20)).await);
    }

    #[test]
    fn api_resources_name_the_plural_of_each_kind() {
        let ar = api_resource::<Tenant>();
        assert_eq!(ar.group, "o365-controller.io");
        assert_eq!(ar.plural, "tenants");
        assert_eq!(api_resource::<FederatedDomain>().plural, "federateddomains");
    }

    #[test]
    fn an_object_that_does_not_parse_names_itself() {
        let mut obj = DynamicObject::new("bad", &api_resource::<FederatedDomain>()).within("ns");
        obj.data = serde_json::json!({"spec": {"tenantRef": 5}});
        let err = parse::<FederatedDomain>(&obj).unwrap_err();
        assert_eq!(
            (err.kind.as_str(), err.namespace.as_str(), err.name.as_str()),
            ("FederatedDomain", "ns", "bad")
        );
        let shown = err.to_string();
        assert!(
            shown.starts_with("FederatedDomain ns/bad cannot be read: "),
            "{shown}"
        );
        assert!(shown.contains("kubectl explain FederatedDomain"), "{shown}");
    }

    fn assignment_json(name: &str, rv: &str, users: usize) -> Value {
        let users: Vec<Value> = (0..users)
            .map(|i| {
                serde_json::json!({
                    "userPrincipalName": format!("u{i}@corp.example.com"),
                    "displayName": format!("U {i}"),
                })
            })
            .collect();
        serde_json::json!({
            "apiVersion": "o365-controller.io/v1alpha1",
            "kind": "AppAssignment",
            "metadata": {
                "name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                "resourceVersion": rv,
                "managedFields": [{"manager": "kubectl", "operation": "Apply",
                                   "fieldsV1": {"f:spec": {}}}],
            },
            "spec": {"domainRef": {"name": "corp"}, "users": users},
        })
    }

    fn stores_with(assignments: &Writer<Cached<AppAssignment>>) -> Stores {
        Stores {
            tenants: Writer::<DynamicObject>::new(api_resource::<Tenant>()).as_reader(),
            domains: writer_of::<FederatedDomain>().as_reader(),
            assignments: assignments.as_reader(),
            policies: writer_of::<LicensePolicy>().as_reader(),
            namespaces: Writer::<PartialObjectMeta<Namespace>>::new(()).as_reader(),
        }
    }

    #[test]
    fn a_list_page_with_an_object_that_does_not_parse_still_reads() {
        let mut bad = assignment_json("bad", "1", 1);
        bad["spec"]["users"] = serde_json::json!("not a list");
        let page = serde_json::json!({
            "apiVersion": "o365-controller.io/v1alpha1",
            "kind": "AppAssignmentList",
            "metadata": {"resourceVersion": "9"},
            "items": [assignment_json("good", "1", 3), bad],
        });
        // As kube reads a list page: from text, through `ObjectList`.
        let text = serde_json::to_string(&page).unwrap();
        let list: kube::core::ObjectList<Cached<AppAssignment>> =
            serde_json::from_str(&text).unwrap();
        let [good, bad] = list.items.as_slice() else {
            panic!("{:?}", list.items);
        };
        let good = good.parsed().unwrap();
        assert_eq!(good.spec.users.len(), 3);
        assert_eq!(
            good.metadata.managed_fields, None,
            "managedFields are not kept"
        );
        let bad = bad.parsed().unwrap_err();
        assert_eq!(bad.reason.name, "bad");
        assert_eq!(bad.reason.kind, "AppAssignment");
        assert!(
            bad.reason.message.contains("invalid type"),
            "{}",
            bad.reason
        );
        // As kube reads a watch event.
        let line = serde_json::json!({"type": "MODIFIED", "object": bad.object}).to_string();
        let event: kube::core::WatchEvent<Cached<AppAssignment>> =
            serde_json::from_str(&line).unwrap();
        let kube::core::WatchEvent::Modified(modified) = event else {
            panic!("{event:?}");
        };
        assert!(modified.parsed().is_err());
    }

    #[test]
    fn every_reconcile_shares_the_one_parsed_copy_shrunk_to_fit() {
        let mut assignments = writer_of::<AppAssignment>();
        let team =
            Cached::<AppAssignment>::from_value(assignment_json("team", "1", 5_000)).unwrap();
        assignments.apply_watcher_event(&Event::Apply(team));
        let stores = stores_with(&assignments);
        let first = stores.namespace_objects("ns");
        let second = stores.namespace_objects("ns");
        assert_eq!(first.assignments.len(), 1);
        assert!(Arc::ptr_eq(&first.assignments[0], &second.assignments[0]));
        let users = &first.assignments[0].spec.users;
        assert_eq!((users.len(), users.capacity()), (5_000, 5_000));
        assert!(first.invalid.is_empty());
    }

    #[test]
    fn a_run_lets_go_of_the_cached_users_once_they_are_planned() {
        let mut assignments = writer_of::<AppAssignment>();
        let mut value = assignment_json("team", "1", 3);
        value["metadata"]["annotations"] = serde_json::json!({"a": "b"});
        value["status"] = serde_json::json!({"lastExportRequestedAt": "T1"});
        let team = Cached::<AppAssignment>::from_value(value).unwrap();
        assignments.apply_watcher_event(&Event::Apply(team));
        let stores = stores_with(&assignments);
        let mut objects = stores.namespace_objects("ns");
        let cached = stores.assignments.state()[0].parsed().unwrap().clone();
        assert_eq!(
            Arc::strong_count(&cached),
            3,
            "the store, the run and this test"
        );
        objects.release_users();
        assert_eq!(Arc::strong_count(&cached), 2, "the run holds it no more");
        let light = &objects.assignments[0];
        assert!(light.spec.users.is_empty());
        assert_eq!(light.annotations().get("a").map(String::as_str), Some("b"));
        let status = light.status.as_ref().unwrap();
        assert_eq!(status.last_export_requested_at.as_deref(), Some("T1"));
        assert_eq!(light.spec.domain_ref, cached.spec.domain_ref);
        assert_eq!(cached.spec.users.len(), 3, "the cache keeps its users");
    }

    #[test]
    fn an_object_that_does_not_parse_is_kept_apart_with_its_reason() {
        let mut assignments = writer_of::<AppAssignment>();
        let mut bad = assignment_json("bad", "1", 1);
        bad["spec"]["domainRef"] = serde_json::json!({"name": 5, "namespace": "ns"});
        for value in [assignment_json("good", "1", 1), bad] {
            let cached = Cached::<AppAssignment>::from_value(value).unwrap();
            assignments.apply_watcher_event(&Event::Apply(cached));
        }
        let objects = stores_with(&assignments).namespace_objects("ns");
        assert_eq!(objects.assignments.len(), 1);
        assert_eq!(
            objects.assignments[0].metadata.name.as_deref(),
            Some("good")
        );
        let [(kind, invalid)] = objects.invalid.as_slice() else {
            panic!("one invalid object expected");
        };
        assert_eq!(*kind, Kind::AppAssignment);
        assert_eq!(invalid.object.metadata.name.as_deref(), Some("bad"));
        assert!(
            invalid
                .reason
                .to_string()
                .starts_with("AppAssignment ns/bad cannot be read: "),
            "{}",
            invalid.reason
        );
    }

    #[test]
    fn a_relist_keeps_the_cached_copy_of_an_object_that_has_not_changed() {
        let mut assignments = writer_of::<AppAssignment>();
        let known = Cached::<AppAssignment>::from_value(assignment_json("team", "1", 2)).unwrap();
        assignments.apply_watcher_event(&Event::Apply(known));
        let store = assignments.as_reader();
        let held = store.state()[0].parsed().unwrap().clone();
        let same = Cached::<AppAssignment>::from_value(assignment_json("team", "1", 2)).unwrap();
        let reused = same.reuse(&store);
        assert!(Arc::ptr_eq(reused.parsed().unwrap(), &held));
        let changed = Cached::<AppAssignment>::from_value(assignment_json("team", "2", 3)).unwrap();
        let fresh = changed.reuse(&store);
        assert_eq!(fresh.parsed().unwrap().spec.users.len(), 3);
    }

    #[test]
    fn a_cached_domain_reads_back_as_its_object_for_a_failure_status() {
        let value = serde_json::json!({
            "apiVersion": "o365-controller.io/v1alpha1",
            "kind": "FederatedDomain",
            "metadata": {"name": "corp", "namespace": "ns", "generation": 2},
            "spec": {"tenantRef": {"name": "t"}, "domain": "corp.example.com"},
            "status": {"observedGeneration": 1},
        });
        let cached = Cached::<FederatedDomain>::from_value(value).unwrap();
        let obj = cached.to_dynamic();
        assert_eq!(obj.metadata.generation, Some(2));
        assert_eq!(obj.data["status"]["observedGeneration"], 1);
        assert_eq!(obj.data["spec"]["domain"], "corp.example.com");
        assert!(obj.data.get("metadata").is_none());
    }
}
