//! A request as Envoy presents it to the filter, for the native tests.

use std::collections::BTreeMap;

use crate::facts::RequestSource;

/// Request headers and host properties (by dotted path, `source.address`).
#[derive(Default)]
pub struct FakeRequest {
    pub headers: Vec<(String, Vec<u8>)>,
    pub properties: BTreeMap<String, Vec<u8>>,
}

impl RequestSource for FakeRequest {
    fn request_headers(&self) -> Vec<(String, Vec<u8>)> {
        self.headers.clone()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.properties.get(&path.join(".")).cloned()
    }
}

/// A request from header and property tables.
pub fn request(headers: &[(&str, &[u8])], properties: &[(&str, &[u8])]) -> FakeRequest {
    FakeRequest {
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect(),
        properties: properties
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
            .collect(),
    }
}

/// The gateway fixture of the sidecar's tests (`cli/tests/fixtures/gateway`), compiled:
/// its bundle JSON and entity JSON.
pub fn gateway_policy() -> (String, String) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/fixtures/gateway");
    let set = rampart_lang::PolicySet::load(&dir).expect("read the gateway fixture");
    let compiled = rampart_lang::compile(&set);
    let bundle = compiled.bundle.expect("the gateway fixture compiles");
    let entities = std::fs::read_to_string(dir.join("entities.json")).expect("its entities");
    (bundle.to_json(), entities)
}
