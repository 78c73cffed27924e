//! `import` writes a repository that `plan` against the same tenant finds in sync: the test of
//! record is a tenant of 10,000 users (federated and managed domains, mixed SKU sets and
//! disabled plans, group-licensed, disabled and synced users, administrators, a leaver,
//! attributes and managers set) and the quickstart's demo tenant, before and after the quickstart's apply.
//! The CLI runs as a user runs it, with its built-in simulator serving Graph over HTTP.

mod engine_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use engine_support::*;
use o365_graph_sim::{Fixture, Group, License, User};
use serde_json::Value;

const SECRET: &str = "import-test-client-secret";

/// A second throwaway certificate (the one of `graph_support.rs`), as the next signing one.
const NEXT_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIDLzCCAhegAwIBAgIUDp3kU5y48YnLjHsfX/XzH2EHvsUwDQYJKoZIhvcNAQEL\nBQAwJjEkMCIGA1UEAwwbbzM2NS1jb250cm9sbGVyIGdyYXBoIHRlc3RzMCAXDTI2\nMTEyNzEwNDEwNVoYDzIxMjYxMTAzMTA0MTA1WjAmMSQwIgYDVQQDDBtvMzY1LWNv\nbnRyb2xsZXIgZ3JhcGggdGVzdHMwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEK\nAoIBAQC9mQCQ5OhEMVhWJyLbKf2JdYs+dW10yLfbJD2ksG9CyHk8QfkNMBR0sLxz\nX56jPJ7Jzg8D15z/3qcSborLm+CPy0gnk2gLcderwj/CjhmMkQtqFNreoMfGbUKQ\nIQqD8uQzu0WJPitq0w3WEsH3fPu/VD8vLSKHNgIxHx4kGShLXC/WxQqnRqqrYllx\nJxj5UWeQ48hOPZwaN44CUx7Sy3QW4zm96nI6Al55+KtbpMNUC6wOkYxuOloWnpC7\nu1m91atd42wvNb7b3hMBkBOCM9xtJBqCsLTEYkRc51UrEwamt3fw8Aj0OssPEku5\nXuQxE2nqQIxwbRbcXH7HeNTtCWrZAgMBAAGjUzBRMB0GA1UdDgQWBBRgdzIbXrEn\nNtzwTZRKHxSEICbVozAfBgNVHSMEGDAWgBRgdzIbXrEnNtzwTZRKHxSEICbVozAP\nBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQBGxTg8X9Ovc6b+x9N/\ntHT/D8WI8l+VOVZLl1kLL/VzbdpFT2UHOp+miX102PGAPsJ5kkaW16Jz04e92vO/\nf6rLF8GlkJrchqRn10mNDEjtKWFWy+LhGM3GyvkLfWfHgocTUFSYkujXTjKZ5whj\n0e1aBBYcOojCJHl1OTqN4f2o/4MhfgT0WwswiPySFoimBN2bgLwfZlddnUot8RC8\nIolt7BLY+OMpUpVOb/azuEyq4dNOYoGGgCGrPSRjjq/ZL71e+prtWbW9r/HacCKF\nkscoWVL9JX1BTyMtdZ/t34dcYdgHtpR4PWH2qXHIQE8a1oCfy7JjFn+5q0t5UjlT\nbh68\n-----END CERTIFICATE-----\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("o365-import-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).must("scratch dir");
    dir
}

fn cli(dir: &Path, secret: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_o365-controller"))
        .args(args)
        .current_dir(dir)
        .env("O365_CLIENT_SECRET", secret)
        .env_remove("RUST_LOG")
        .output()
        .must("the CLI runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().must("utf-8 path")
}

/// The fixture's base: domains (two federated with different settings, one managed, one
/// unverified), SKUs, the app, a group licensing EMS and an empty license group named as the
/// controller names its own.
fn base() -> Fixture {
    let signing = resolve_b64(CERT_PEM);
    let next = resolve_b64(NEXT_CERT_PEM);
    let yaml = format!(
        r#"
tenant:
  id: 33333333-3333-3333-3333-333333333333
  displayName: Corp
  initialDomain: corp.onmicrosoft.com
domains:
  - id: corp.onmicrosoft.com
    isDefault: true
    isInitial: true
  - id: corp.example.com
    federation:
      displayName: Corp SSO
      issuerUri: https://sso.corp.example.com/idp
      passiveSignInUri: https://sso.corp.example.com/idp/saml
      signOutUri: https://sso.corp.example.com/idp/logout
      activeSignInUri: https://sso.corp.example.com/idp/trust
      metadataExchangeUri: https://sso.corp.example.com/idp/mex
      preferredAuthenticationProtocol: saml
      federatedIdpMfaBehavior: enforceMfaByFederatedIdp
      promptLoginBehavior: nativeSupport
      isSignedAuthenticationRequestRequired: true
      signingCertificate: {signing}
      nextSigningCertificate: {next}
  - id: sales.example.com
    federation:
      issuerUri: https://idp.sales.example.com/
      passiveSignInUri: https://idp.sales.example.com/wsfed
      signOutUri: https://idp.sales.example.com/logout
      preferredAuthenticationProtocol: wsFed
      federatedIdpMfaBehavior: acceptIfMfaDoneByFederatedIdp
      signingCertificate: {next}
  - id: fabrikam.example.com
  - id: unverified.example.com
    isVerified: false
users:
  - userPrincipalName: admin@corp.onmicrosoft.com
    displayName: Break-glass Administrator
    usageLocation: US
    roles: [Global Administrator]
skus:
  - skuId: {E3}
    skuPartNumber: ENTERPRISEPACK
    enabled: 20000
    servicePlans:
      - {{servicePlanId: efb87545-963c-4e0d-99df-69c6916d9eb0, servicePlanName: EXCHANGE_S_ENTERPRISE}}
      - {{servicePlanId: {TEAMS}, servicePlanName: TEAMS1}}
      - {{servicePlanId: {YAMMER}, servicePlanName: YAMMER_ENTERPRISE}}
      - {{servicePlanId: {SWAY}, servicePlanName: SWAY}}
  - skuId: {EMS}
    skuPartNumber: EMS
    enabled: 20000
    servicePlans:
      - {{servicePlanId: 41781fb2-bc02-4b7c-bd55-b576c07bb09d, servicePlanName: AAD_PREMIUM}}
      - {{servicePlanId: c1ec4a95-1f05-45b3-a911-aa3fa01094f5, servicePlanName: INTUNE_A}}
  - skuId: {SMALL}
    skuPartNumber: POWER_BI_STANDARD
    enabled: 20000
    servicePlans:
      - {{servicePlanId: 2049e525-b859-401b-b2a0-e0a31c4b1fe4, servicePlanName: BI_AZURE_P0}}
apps:
  - clientId: {CLIENT_ID}
    displayName: o365-controller (import tests)
    clientSecrets: [{SECRET}]
"#
    );
    Fixture::from_yaml(&yaml).must("the import fixture parses")
}

fn resolve_b64(pem: &str) -> String {
    o365_controller::resolve::to_base64_der(pem).must("a test certificate")
}

const DEPARTMENTS: [&str; 6] = ["Finance", "Sales", "Engineering", "Legal", "Support", "HR"];
const TITLES: [&str; 4] = ["Analyst", "Manager", "Engineer", "Director"];
const CITIES: [(&str, &str); 5] = [
    ("Seattle", "United States"),
    ("Berlin", "Germany"),
    ("London", "United Kingdom"),
    ("Austin", "United States"),
    ("Munich", "Germany"),
];

/// The 10,000-user tenant.
fn big_fixture() -> Fixture {
    let mut f = base();
    let mut ems_members = Vec::new();
    let mut owned_members = Vec::new();
    for i in 0..10_000usize {
        let domain = match i % 10 {
            0..=4 => "corp.example.com",
            5..=7 => "sales.example.com",
            _ => "fabrikam.example.com",
        };
        let federated = domain != "fabrikam.example.com";
        let upn = format!("user{i:05}@{domain}");
        let mut u = User::new(&upn, &format!("User {i:05}"));
        u.given_name = Some("User".into());
        u.surname = Some(format!("{i:05}"));
        if i % 17 == 0 {
            u.mail_nickname = format!("u{i}");
        }
        u.on_premises_immutable_id = if federated {
            Some(if i % 3 == 0 {
                format!("EMP{i:06}")
            } else {
                o365_controller::plan::derive_immutable_id(&upn)
            })
        } else {
            (i % 4 == 0).then(|| format!("FAB{i:06}"))
        };
        let licenses: &[(&str, &[&str])] = match i % 7 {
            0 => &[],
            1 => &[(E3, &[])],
            2 => &[(E3, &[YAMMER])],
            3 => &[(E3, &[]), (EMS, &[])],
            4 => &[(E3, &[YAMMER, SWAY]), (EMS, &[])],
            5 => &[(EMS, &[])],
            _ => &[(SMALL, &[]), (E3, &[TEAMS])],
        };
        u.licenses = licenses
            .iter()
            .map(|(sku, plans)| License {
                sku: sku.to_string(),
                disabled_plans: plans.iter().map(|p| p.to_string()).collect(),
            })
            .collect();
        let (city, country) = CITIES[i % 5];
        let german = country == "Germany";
        u.usage_location = if i % 7 == 0 && i % 2 == 0 {
            None
        } else if german {
            Some("DE".into())
        } else {
            Some("US".into())
        };
        u.account_enabled = i % 37 != 0;
        let company = match domain {
            "corp.example.com" => "Corp Inc",
            "sales.example.com" => "Corp Sales GmbH",
            _ => "Fabrikam",
        };
        let mut attrs = vec![
            ("department", DEPARTMENTS[i % 6].to_string()),
            ("jobTitle", TITLES[i % 4].to_string()),
            ("employeeId", format!("E{i:05}")),
            ("companyName", company.to_string()),
            ("officeLocation", format!("Building {}", i % 3 + 1)),
            ("city", city.to_string()),
            ("country", country.to_string()),
            (
                "preferredLanguage",
                if german { "de-DE" } else { "en-US" }.to_string(),
            ),
            (
                "employeeType",
                if i % 9 == 0 { "Contractor" } else { "Employee" }.to_string(),
            ),
        ];
        if i % 2 == 0 {
            attrs.push(("mobilePhone", format!("+1 555 01{:04}", i % 10_000)));
        }
        for (k, v) in attrs {
            u.extra.insert(k.to_string(), Value::String(v));
        }
        // Synced from AD: a source anchor, AD masters its names.
        if domain == "corp.example.com" && i % 97 == 0 {
            u.on_premises_sync_enabled = true;
            u.on_premises_immutable_id = Some(format!("AD{i:06}"));
        }
        // Managers: a team lead per fifty users of the domain, and an administrator (not
        // listed, but a tenant user) for one of them.
        let lead = i / 50 * 50 + (i % 10);
        if i % 3 == 1 && lead != i {
            u.manager = Some(format!("user{lead:05}@{domain}"));
        }
        if i == 11 {
            u.manager = Some("user00010@corp.example.com".into());
        }
        // Administrators are never managed.
        if i == 10 || i == 20 {
            u.roles = vec!["User Administrator".into()];
        }
        if i == 30 {
            u.roles = vec!["Global Administrator".into()];
        }
        // A leaver the controller disabled.
        if i == 40 {
            u.account_enabled = false;
            u.extra.insert(
                "onPremisesExtensionAttributes".into(),
                serde_json::json!({
                    "extensionAttribute15": "o365-controller leaver since 2026-11-20T08:00:00Z"
                }),
            );
        }
        if i % 11 == 0 {
            ems_members.push(upn.clone());
        }
        if i % 101 == 0 {
            owned_members.push(upn.clone());
        }
        f.users.push(u);
    }
    f.users
        .push(User::new("lost@corp.onmicrosoft.com", "Lost In Initial"));
    let mut gone = User::new("gone@fabrikam.example.com", "Gone User");
    gone.deleted_date_time = Some("2026-11-25T00:00:00Z".into());
    f.deleted_users.push(gone);
    f.groups.push(Group {
        id: String::new(),
        display_name: "All staff EMS".into(),
        description: None,
        mail_nickname: String::new(),
        members: ems_members,
        licenses: vec![License {
            sku: "EMS".into(),
            disabled_plans: vec![],
        }],
        created_date_time: None,
    });
    // The group a LicensePolicy "enterprisepack" of namespace default would own: a Direct
    // policy of that name would drain it, so import must pick another name.
    f.groups.push(Group {
        id: String::new(),
        display_name: "o365-controller license default/enterprisepack".into(),
        description: None,
        mail_nickname: String::new(),
        members: owned_members,
        licenses: vec![License {
            sku: "ENTERPRISEPACK".into(),
            disabled_plans: vec![],
        }],
        created_date_time: None,
    });
    f
}

fn tenant_yaml() -> String {
    format!(
        r#"apiVersion: o365-controller.io/v1alpha1
kind: Tenant
metadata:
  name: corp
spec:
  tenantId: {TENANT_ID}
  clientId: {CLIENT_ID}
  credentials:
    clientSecret:
      secretName: graph-credentials
      key: client-secret
"#
    )
}

/// `plan -o json` of `dir` against the simulated tenant in `state`: exit 0, no action, no
/// drift, no finding above Info.
fn assert_plan_in_sync(work: &Path, dir: &Path, state: &Path, secret: &str) -> Value {
    let out = cli(
        work,
        secret,
        &[
            "plan",
            "-f",
            path(dir),
            "--simulate",
            "--sim-state",
            path(state),
            "-o",
            "json",
        ],
    );
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("plan -o json prints JSON ({e}):\n{}", text(&out)));
    let tenant = &report["tenants"][0];
    let actions = tenant["actions"].as_array().map_or(0, Vec::len);
    let loud: Vec<&Value> = tenant["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["severity"] != "Info")
        .collect();
    let drifted: Vec<&Value> = tenant["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["state"] != "InSync")
        .collect();
    assert!(
        out.status.code() == Some(0) && actions == 0 && loud.is_empty() && drifted.is_empty(),
        "plan after import: exit {:?}, {actions} action(s), findings above Info {loud:#?}, \
         objects not in sync {drifted:#?}\nactions: {:#?}",
        out.status.code(),
        tenant["actions"]
    );
    report
}

/// A file's text with its comments unwrapped: every run of comment lines joined into one.
fn read(dir: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = String::new();
    let mut in_comment = false;
    for line in text.lines() {
        match line.trim_start().strip_prefix('#') {
            Some(c) if in_comment && c.trim().is_empty() => {
                out.push_str("\n#");
            }
            Some(c) if in_comment => {
                out.push(' ');
                out.push_str(c.trim());
            }
            Some(c) => {
                out.push_str("# ");
                out.push_str(c.trim());
                in_comment = true;
            }
            None => {
                if in_comment {
                    out.push('\n');
                }
                in_comment = false;
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[test]
fn import_of_a_10000_user_tenant_plans_as_a_no_op() {
    let work = scratch("big");
    let fixture = work.join("fixture.json");
    std::fs::write(&fixture, big_fixture().to_json().must("JSON")).must("fixture");
    let tenant = work.join("tenant.yaml");
    std::fs::write(&tenant, tenant_yaml()).must("tenant");
    let state = work.join("state.json");
    let out_dir = work.join("repo");

    let out = cli(
        &work,
        SECRET,
        &[
            "import",
            "-f",
            path(&tenant),
            "--simulate",
            "--fixture",
            path(&fixture),
            "--sim-state",
            path(&state),
            "--out-dir",
            path(&out_dir),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(0), "import:\n{}", text(&out));
    assert!(
        stderr.contains("imported 9996 user(s)"),
        "10,000 minus 3 administrators and 1 leaver are listed:\n{stderr}"
    );
    assert!(stderr.contains("leaver mark"), "{stderr}");
    assert!(!stderr.contains(SECRET), "the secret is never printed");

    // Valid, and a no-op.
    let out = cli(&work, SECRET, &["validate", "-f", path(&out_dir)]);
    assert_eq!(out.status.code(), Some(0), "validate:\n{}", text(&out));
    let report = assert_plan_in_sync(&work, &out_dir, &state, SECRET);
    let objects = report["tenants"][0]["objects"].as_array().must("objects");
    let kinds = |k: &str| objects.iter().filter(|o| o["kind"] == k).count();
    assert_eq!(kinds("Tenant"), 1);
    assert_eq!(kinds("FederatedDomain"), 3, "two federated, one managed");
    assert_eq!(kinds("LicensePolicy"), 6, "{objects:#?}");

    // What was written, and said.
    let tenant_text = read(&out_dir, "00-tenant.yaml");
    assert!(tenant_text.contains("secretName: graph-credentials"));
    assert!(!tenant_text.contains(SECRET) && !tenant_text.contains("kind: Secret"));
    assert!(
        tenant_text.contains("lost@corp.onmicrosoft.com"),
        "{tenant_text}"
    );
    let corp = read(&out_dir, "10-domain-corp-example-com.yaml");
    for want in [
        "authentication: Federated",
        "preferredAuthenticationProtocol: saml",
        "federatedIdpMfaBehavior: enforceMfaByFederatedIdp",
        "promptLoginBehavior: nativeSupport",
        "isSignedAuthenticationRequestRequired: true",
        "nextSigningCertificate:",
        "BEGIN CERTIFICATE",
        "metadataExchangeUri: https://sso.corp.example.com/idp/mex",
        "user00010@corp.example.com (User Administrator)",
        "user00030@corp.example.com (Global Administrator)",
        "user00040@corp.example.com",
    ] {
        assert!(corp.contains(want), "{want:?} missing from:\n{corp}");
    }
    let fabrikam = read(&out_dir, "10-domain-fabrikam-example-com.yaml");
    assert!(fabrikam.contains("authentication: Managed"), "{fabrikam}");
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .must("out dir")
        .map(|e| e.must("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n == "30-license-enterprisepack.yaml"),
        "the name of the controller's license group is avoided: {names:?}"
    );
    let policy = read(&out_dir, "30-license-enterprisepack-ems-custom.yaml");
    assert!(
        policy.contains("# inferred: ")
            && policy.contains("ENTERPRISEPACK without SWAY, YAMMER_ENTERPRISE + EMS")
            && policy.contains("- YAMMER_ENTERPRISE"),
        "{policy}"
    );
    let no_direct = read(&out_dir, "20-assignment-corp-example-com.yaml");
    assert!(no_direct.contains("inherited from groups"), "{no_direct}");
    assert!(
        no_direct.contains("companyName: Corp Inc"),
        "a shared value is a default"
    );
    assert!(
        no_direct.contains("# synced from on-premises AD"),
        "synced users are commented:\n{no_direct}"
    );
    let custom = read(
        &out_dir,
        "20-assignment-corp-example-com-enterprisepack-ems-custom.yaml",
    );
    assert!(
        custom.contains("manager: user00010@corp.example.com"),
        "a manager who is not listed (an administrator) is still named"
    );
    // Group-licensed only (EMS from the group, nothing direct): no policy covers them.
    let ems_only_group_member = "user00154@corp.example.com"; // 154 % 7 == 0, % 11 == 0
    assert!(no_direct.contains(ems_only_group_member));
    assert!(
        no_direct.contains("manager: user00050@corp.example.com"),
        "managers are imported by UPN"
    );
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn import_of_the_quickstart_tenant_plans_as_a_no_op_before_and_after_its_apply() {
    let work = scratch("quickstart");
    let quickstart = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/quickstart"
    ));
    let tenant = quickstart.join("00-tenant.yaml");
    let demo_secret = "demo-client-secret";
    for (step, apply_first) in [("fresh", false), ("applied", true)] {
        let state = work.join(format!("{step}.json"));
        if apply_first {
            let out = cli(
                &work,
                demo_secret,
                &[
                    "apply",
                    "-f",
                    path(&quickstart),
                    "--simulate",
                    "--sim-state",
                    path(&state),
                ],
            );
            assert_eq!(
                out.status.code(),
                Some(0),
                "quickstart apply:\n{}",
                text(&out)
            );
        }
        let out_dir = work.join(step);
        let out = cli(
            &work,
            demo_secret,
            &[
                "import",
                "-f",
                path(&tenant),
                "--simulate",
                "--sim-state",
                path(&state),
                "--out-dir",
                path(&out_dir),
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{step} import:\n{}", text(&out));
        let out = cli(&work, demo_secret, &["validate", "-f", path(&out_dir)]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{step} validate:\n{}",
            text(&out)
        );
        assert_plan_in_sync(&work, &out_dir, &state, demo_secret);
        let domain = read(&out_dir, "10-domain-contoso-com.yaml");
        let federated = domain.contains("authentication: Federated");
        assert_eq!(federated, apply_first, "{step}:\n{domain}");
    }
    // A second import into a directory that is not empty is refused: old files would be read
    // with the new ones.
    let out = cli(
        &work,
        demo_secret,
        &[
            "import",
            "-f",
            path(&tenant),
            "--simulate",
            "--sim-state",
            path(&work.join("fresh.json")),
            "--out-dir",
            path(&work.join("fresh")),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("is not empty"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&work);
}
