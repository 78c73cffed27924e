//! Reading manifests from files: multi-document YAML of the four kinds plus `Secret` and
//! `Namespace` (for its labels), checked against the same schema and CEL rules the API server
//! enforces, with every error reported as `file:line:column: message`.

mod budget;
mod input;
mod patterns;
mod schema;
mod secret;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::ResourceExt;
use kube::core::cel::Validator;
use serde_saphyr::Spanned;

use crate::api::{AppAssignment, FederatedDomain, GROUP, LicensePolicy, Tenant, VERSION};
pub use input::{DEFAULT_MAX_FILE_SIZE, Limits, human_size, parse_size};
use yaml::Node;
pub use yaml::Position;

/// One problem in one document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// Where in it.
    pub position: Position,
    /// What is wrong and, where it can say, what to write instead.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.position.line,
            self.position.column,
            self.message
        )
    }
}

/// Where an object was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file.
    pub file: PathBuf,
    /// The start of the document.
    pub position: Position,
}

/// Everything read from a set of files, in file order.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// Tenants.
    pub tenants: Vec<Tenant>,
    /// FederatedDomains (shared with the desired state resolved from them).
    pub domains: Vec<Arc<FederatedDomain>>,
    /// AppAssignments (shared: the desired state keeps their users without a copy).
    pub assignments: Vec<Arc<AppAssignment>>,
    /// LicensePolicies.
    pub policies: Vec<Arc<LicensePolicy>>,
    /// Secrets (credentials for CLI mode).
    pub secrets: Vec<Secret>,
    /// Namespaces, read for their labels (`allowedAssignments.namespaces.selector`).
    pub namespaces: Vec<Namespace>,
    /// Where each object came from, keyed by `Kind/name`.
    pub sources: BTreeMap<String, Source>,
}

impl Manifests {
    /// How many objects were read.
    pub fn len(&self) -> usize {
        self.tenants.len()
            + self.domains.len()
            + self.assignments.len()
            + self.policies.len()
            + self.secrets.len()
            + self.namespaces.len()
    }

    /// Puts every object without `metadata.namespace` into `namespace`, as `kubectl apply -n`
    /// would. Returns the objects that are then defined twice.
    pub fn default_namespace(&mut self, namespace: &str) -> Vec<String> {
        fn fill<'a, K: ResourceExt + 'a>(
            objects: impl Iterator<Item = &'a mut K>,
            namespace: &str,
        ) {
            for o in objects {
                if o.meta().namespace.as_deref().is_none_or(str::is_empty) {
                    o.meta_mut().namespace = Some(namespace.to_owned());
                }
            }
        }
        fn twice<'a, K: ResourceExt + 'a>(
            kind: &str,
            objects: impl Iterator<Item = &'a K>,
            out: &mut Vec<String>,
        ) {
            let mut seen = std::collections::BTreeSet::new();
            for o in objects {
                let key = format!(
                    "{kind}/{}/{}",
                    o.namespace().unwrap_or_default(),
                    o.name_any()
                );
                if !seen.insert(key.clone()) {
                    out.push(format!(
                        "{key} is defined twice (a document without metadata.namespace is in \
                         namespace {:?}); object names must be unique per kind and namespace",
                        o.namespace().unwrap_or_default()
                    ));
                }
            }
        }
        // Nothing else holds the objects yet: `make_mut` copies none.
        fill(self.tenants.iter_mut(), namespace);
        fill(self.domains.iter_mut().map(Arc::make_mut), namespace);
        fill(self.assignments.iter_mut().map(Arc::make_mut), namespace);
        fill(self.policies.iter_mut().map(Arc::make_mut), namespace);
        fill(self.secrets.iter_mut(), namespace);
        let mut out = Vec::new();
        twice("Tenant", self.tenants.iter(), &mut out);
        twice(
            "FederatedDomain",
            self.domains.iter().map(AsRef::as_ref),
            &mut out,
        );
        twice(
            "AppAssignment",
            self.assignments.iter().map(AsRef::as_ref),
            &mut out,
        );
        twice(
            "LicensePolicy",
            self.policies.iter().map(AsRef::as_ref),
            &mut out,
        );
        twice("Secret", self.secrets.iter(), &mut out);
        out
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads every `.yaml`/`.yml` file under `paths` (directories recursively, in name order) and
/// returns the objects, or every problem found in any of them. Default [`Limits`].
pub fn load(paths: &[PathBuf]) -> Result<Manifests, Vec<Diagnostic>> {
    load_with(paths, &Limits::default())
}

/// [`load`] within `limits`: regular files only, each at most `limits.max_file_size` bytes.
///
/// Reading and parsing run one file ahead on a second thread while this one checks and
/// converts the file before (parsing is about half the work); objects and problems come out
/// exactly as if the files were loaded one by one.
pub fn load_with(paths: &[PathBuf], limits: &Limits) -> Result<Manifests, Vec<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let files = input::collect(paths, &mut diagnostics);
    let loader = Loader::new();
    let mut manifests = Manifests::default();
    let read = |file: &PathBuf| -> Result<Parsed, Diagnostic> {
        let text = input::read(file, limits)?;
        let documents = parse(file, &text)?;
        Ok(Parsed { text, documents })
    };
    let mut check = |file: &PathBuf, parsed: Result<Parsed, Diagnostic>| match parsed {
        Ok(Parsed { text, documents }) => {
            loader.load_documents(file, &text, documents, &mut manifests, &mut diagnostics)
        }
        Err(d) => diagnostics.push(d),
    };
    std::thread::scope(|scope| {
        // At most one parsed file waits: memory stays that of two or three files' values.
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let reader = std::thread::Builder::new()
            .name("manifest-reader".into())
            .spawn_scoped(scope, || {
                for file in &files {
                    if sender.send(read(file)).is_err() {
                        break;
                    }
                }
                drop(sender);
            });
        if reader.is_ok() {
            for (file, parsed) in files.iter().zip(receiver) {
                check(file, parsed);
            }
        } else {
            // No second thread to be had: one file after the other.
            for file in &files {
                check(file, read(file));
            }
        }
    });
    if diagnostics.is_empty() {
        Ok(manifests)
    } else {
        diagnostics.sort();
        Err(diagnostics)
    }
}

/// A file's text and its documents, parsed.
struct Parsed {
    text: String,
    documents: Vec<Spanned<serde_json::Value>>,
}

/// Parses every document of `text` straight into JSON values: where each field came from is
/// looked up only for a document with problems (the file is then parsed again, with
/// positions).
fn parse(file: &Path, text: &str) -> Result<Vec<Spanned<serde_json::Value>>, Diagnostic> {
    serde_saphyr::from_multiple_with_options(text, budget::options(text.len())).map_err(|e| {
        Diagnostic {
            file: file.to_owned(),
            position: e
                .location()
                .map(Position::from_location)
                .unwrap_or_default(),
            message: budget::explain(&e, text.len()),
        }
    })
}

/// Parses manifests from a string, as if read from `file`.
pub fn load_str(file: &Path, text: &str) -> Result<Manifests, Vec<Diagnostic>> {
    let mut manifests = Manifests::default();
    let mut diagnostics = Vec::new();
    Loader::new().load_text(file, text, &mut manifests, &mut diagnostics);
    if diagnostics.is_empty() {
        Ok(manifests)
    } else {
        Err(diagnostics)
    }
}

struct KindSchema {
    kind: String,
    /// The CRD's schema and rules, compiled.
    schema: schema::Schema,
}

struct Loader {
    validator: Validator,
    kinds: Vec<KindSchema>,
}

/// Problems of one document, by field path (located in the source only when there are any).
type Problems = Vec<(String, String)>;

impl Loader {
    fn new() -> Self {
        let kinds = crate::api::crds()
            .into_iter()
            .filter_map(|crd| {
                let kind = crd.spec.names.kind.clone();
                let schema = crd
                    .spec
                    .versions
                    .first()?
                    .schema
                    .as_ref()?
                    .open_api_v3_schema
                    .as_ref()?;
                let schema = schema::Schema::compile(&serde_json::to_value(schema).ok()?);
                Some(KindSchema { kind, schema })
            })
            .collect();
        Self {
            validator: Validator::new(),
            kinds,
        }
    }

    fn load_text(
        &self,
        file: &Path,
        text: &str,
        manifests: &mut Manifests,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        match parse(file, text) {
            Ok(documents) => self.load_documents(file, text, documents, manifests, diagnostics),
            Err(d) => diagnostics.push(d),
        }
    }

    /// Checks and converts the parsed `documents` of `text`.
    fn load_documents(
        &self,
        file: &Path,
        text: &str,
        documents: Vec<Spanned<serde_json::Value>>,
        manifests: &mut Manifests,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let mut failed: Vec<(usize, Position, Problems)> = Vec::new();
        for (i, document) in documents.into_iter().enumerate() {
            if document.value.is_null() {
                continue; // an empty document, e.g. a trailing `---`
            }
            let start = Position::from_location(document.referenced);
            let source = Source {
                file: file.to_owned(),
                position: start,
            };
            let mut problems = Problems::new();
            self.load_document(document.value, source, manifests, &mut problems);
            if !problems.is_empty() {
                failed.push((i, start, problems));
            }
        }
        if failed.is_empty() {
            return;
        }
        let located: Vec<Spanned<Node>> =
            serde_saphyr::from_multiple_with_options(text, budget::options(text.len()))
                .unwrap_or_default();
        for (i, start, problems) in failed {
            let index = located.get(i).map(yaml::index).unwrap_or_default();
            for (path, message) in problems {
                diagnostics.push(Diagnostic {
                    file: file.to_owned(),
                    position: index.locate(&path).unwrap_or(start),
                    message: if path.is_empty() {
                        message
                    } else {
                        format!("{path}: {message}")
                    },
                });
            }
        }
    }

    fn load_document(
        &self,
        value: serde_json::Value,
        source: Source,
        manifests: &mut Manifests,
        problems: &mut Problems,
    ) {
        let mut report = |path: &str, message: String| problems.push((path.to_owned(), message));
        let field = |key: &str| {
            value
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let api_version = field("apiVersion");
        let kind = field("kind");
        let name = value
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned();
        if !value.is_object() {
            report(
                "",
                "a manifest must be a mapping with apiVersion, kind, metadata and spec".into(),
            );
            return;
        }
        if name.is_empty() {
            report(
                "metadata.name",
                "Required value: every object needs metadata.name".into(),
            );
        }
        if api_version == "v1" && kind == "Secret" {
            // Messages about a Secret never quote its values.
            match secret::parse(value) {
                Ok(secret) => {
                    manifests.sources.insert(format!("Secret/{name}"), source);
                    manifests.secrets.push(secret);
                }
                Err(problems) => {
                    for (path, message) in problems {
                        report(&path, message);
                    }
                }
            }
            return;
        }
        if api_version == "v1" && kind == "Namespace" {
            match serde_json::from_value::<Namespace>(value) {
                Ok(namespace) => {
                    let key = format!("Namespace/{name}");
                    if manifests.sources.insert(key.clone(), source).is_some() {
                        report("metadata.name", format!("{key} is defined twice"));
                    }
                    manifests.namespaces.push(namespace);
                }
                Err(e) => report("", format!("invalid Namespace: {e}")),
            }
            return;
        }
        let expected = format!("{GROUP}/{VERSION}");
        let Some(kind_schema) = self.kinds.iter().find(|k| k.kind == kind) else {
            report(
                "kind",
                format!(
                    "unsupported kind {kind:?} (apiVersion {api_version:?}): expected Tenant, FederatedDomain, AppAssignment or LicensePolicy ({expected}), or Secret or Namespace (v1)"
                ),
            );
            return;
        };
        if api_version != expected {
            report(
                "apiVersion",
                format!(
                    "unsupported apiVersion {api_version:?} for {kind}: write apiVersion: {expected}"
                ),
            );
            return;
        }
        let structural = kind_schema.schema.validate(&value);
        if !structural.is_empty() {
            for violation in structural {
                report(&violation.path, violation.message);
            }
            return; // CEL rules assume a structurally valid object, as the API server does
        }
        let broken = kind_schema.schema.check_rules(&self.validator, &value);
        if !broken.is_empty() {
            for violation in broken {
                report(
                    &violation.path,
                    format!("Invalid value: {}", violation.message),
                );
            }
            return;
        }
        let key = match value
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
        {
            Some(ns) => format!("{kind}/{ns}/{name}"),
            None => format!("{kind}/{name}"),
        };
        let typed = match kind.as_str() {
            "Tenant" => serde_json::from_value(value).map(|o| manifests.tenants.push(o)),
            "FederatedDomain" => {
                serde_json::from_value(value).map(|o| manifests.domains.push(Arc::new(o)))
            }
            "AppAssignment" => serde_json::from_value(value).map(|mut o: AppAssignment| {
                // Kept for the whole run: without the room deserialising left (~2x the users).
                o.spec.users.shrink_to_fit();
                manifests.assignments.push(Arc::new(o));
            }),
            _ => serde_json::from_value(value).map(|o| manifests.policies.push(Arc::new(o))),
        };
        match typed {
            Ok(()) => {
                if manifests.sources.insert(key.clone(), source).is_some() {
                    report(
                        "metadata.name",
                        format!("{key} is defined twice; object names must be unique per kind"),
                    );
                }
            }
            Err(e) => report("", format!("invalid {kind}: {e}")),
        }
    }
}
