//! Writing a workload's policies and data to a folder, and reading them back (without the
//! request stream). The report's memory probe loads one engine from such a folder in a
//! fresh process, so that its resident memory is not inflated by the generator.

use std::fs;
use std::io;
use std::path::Path;

use super::Workload;
use crate::engines::EngineKind;

const RAMPART_DIR: &str = "rampart";
const CEDAR_FILE: &str = "policies.cedar";
const REGO_DIR: &str = "rego";
const REGO_ROUTED_DIR: &str = "rego-routed";
const ENTITIES_FILE: &str = "entities.json";
const DATA_FILE: &str = "data.json";

impl Workload {
    /// Writes the policies (every language) and the data to `dir`, creating it.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        write_files(&dir.join(RAMPART_DIR), &self.rampart_files)?;
        write_files(&dir.join(REGO_DIR), &self.rego_modules)?;
        write_files(&dir.join(REGO_ROUTED_DIR), &self.rego_routed_modules)?;
        fs::write(dir.join(CEDAR_FILE), &self.cedar_policies)?;
        fs::write(dir.join(ENTITIES_FILE), &self.entities_json)?;
        fs::write(dir.join(DATA_FILE), &self.rego_data_json)?;
        Ok(())
    }

    /// Reads back what [`Workload::write_to`] wrote, only the files `kind` loads from
    /// (the others are left empty), so that a memory probe holds nothing another engine
    /// needs. Rampart's policy sources are never read: a deployed Rampart loads the
    /// compiled bundle and the entities. The request stream is empty; `rules` and
    /// `entities` are not recorded and read as 0.
    pub fn read_for(name: &str, dir: &Path, kind: EngineKind) -> io::Result<Workload> {
        let text = |file: &str, wanted: bool| {
            if wanted {
                fs::read_to_string(dir.join(file))
            } else {
                Ok(String::new())
            }
        };
        let cedar = matches!(kind, EngineKind::Cedar | EngineKind::CedarSliced);
        let rego = matches!(kind, EngineKind::Regorus | EngineKind::RegorusRouted);
        Ok(Workload {
            name: name.to_string(),
            rules: 0,
            entities: 0,
            rampart_files: Vec::new(),
            cedar_policies: text(CEDAR_FILE, cedar)?,
            rego_modules: if kind == EngineKind::Regorus {
                read_files(&dir.join(REGO_DIR))?
            } else {
                Vec::new()
            },
            rego_routed_modules: if kind == EngineKind::RegorusRouted {
                read_files(&dir.join(REGO_ROUTED_DIR))?
            } else {
                Vec::new()
            },
            entities_json: text(ENTITIES_FILE, !rego)?,
            rego_data_json: text(DATA_FILE, rego)?,
            requests: Vec::new(),
        })
    }
}

fn write_files(dir: &Path, files: &[(String, String)]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    for (name, text) in files {
        fs::write(dir.join(name), text)?;
    }
    Ok(())
}

/// The files of `dir` as `(file name, text)`, sorted by name.
fn read_files(dir: &Path) -> io::Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((name, fs::read_to_string(&path)?));
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_reads_back_only_its_own_files() {
        let workload = super::super::generate("small", 3);
        let Some(workload) = workload else {
            panic!("small exists");
        };
        let dir = std::env::temp_dir().join(format!("rampart-bench-files-{}", std::process::id()));
        workload.write_to(&dir).unwrap();
        let read = |kind| Workload::read_for("small", &dir, kind).unwrap();
        let (rampart, cedar, regorus) = (
            read(EngineKind::Rampart),
            read(EngineKind::Cedar),
            read(EngineKind::Regorus),
        );
        let (sliced, routed) = (
            read(EngineKind::CedarSliced),
            read(EngineKind::RegorusRouted),
        );
        let _ = fs::remove_dir_all(&dir);

        assert_eq!(rampart.entities_json, workload.entities_json);
        assert!(rampart.rampart_files.is_empty() && rampart.cedar_policies.is_empty());
        assert!(rampart.rego_modules.is_empty() && rampart.rego_data_json.is_empty());

        assert_eq!(cedar.cedar_policies, workload.cedar_policies);
        assert_eq!(cedar.entities_json, workload.entities_json);
        assert!(cedar.rego_modules.is_empty() && cedar.rampart_files.is_empty());

        assert_eq!(regorus.rego_modules, workload.rego_modules);
        assert_eq!(regorus.rego_data_json, workload.rego_data_json);
        assert!(regorus.cedar_policies.is_empty() && regorus.entities_json.is_empty());
        assert!(regorus.requests.is_empty() && regorus.rego_routed_modules.is_empty());

        assert_eq!(sliced.cedar_policies, workload.cedar_policies);
        assert_eq!(sliced.entities_json, workload.entities_json);
        assert_eq!(routed.rego_routed_modules, workload.rego_routed_modules);
        assert_eq!(routed.rego_data_json, workload.rego_data_json);
        assert!(routed.rego_modules.is_empty() && routed.entities_json.is_empty());
    }
}
