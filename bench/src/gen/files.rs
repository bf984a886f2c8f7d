//! Writing a workload's policies and data to a folder, and reading them back (without the
//! request stream). The report's memory probe loads one engine from such a folder in a
//! fresh process, so that its resident memory is not inflated by the generator.

use std::fs;
use std::io;
use std::path::Path;

use super::Workload;

const RAMPART_DIR: &str = "rampart";
const CEDAR_FILE: &str = "policies.cedar";
const REGO_DIR: &str = "rego";
const ENTITIES_FILE: &str = "entities.json";
const DATA_FILE: &str = "data.json";

impl Workload {
    /// Writes the policies (every language) and the data to `dir`, creating it.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        write_files(&dir.join(RAMPART_DIR), &self.rampart_files)?;
        write_files(&dir.join(REGO_DIR), &self.rego_modules)?;
        fs::write(dir.join(CEDAR_FILE), &self.cedar_policies)?;
        fs::write(dir.join(ENTITIES_FILE), &self.entities_json)?;
        fs::write(dir.join(DATA_FILE), &self.rego_data_json)?;
        Ok(())
    }

    /// Reads what [`Workload::write_to`] wrote. The request stream is empty; `rules` and
    /// `entities` are not recorded and read as 0.
    pub fn read_from(name: &str, dir: &Path) -> io::Result<Workload> {
        Ok(Workload {
            name: name.to_string(),
            rules: 0,
            entities: 0,
            rampart_files: read_files(&dir.join(RAMPART_DIR))?,
            cedar_policies: fs::read_to_string(dir.join(CEDAR_FILE))?,
            rego_modules: read_files(&dir.join(REGO_DIR))?,
            entities_json: fs::read_to_string(dir.join(ENTITIES_FILE))?,
            rego_data_json: fs::read_to_string(dir.join(DATA_FILE))?,
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
    fn round_trip_keeps_policies_and_data() {
        let workload = super::super::generate("small", 3);
        let Some(workload) = workload else {
            panic!("small exists");
        };
        let dir = std::env::temp_dir().join(format!("rampart-bench-files-{}", std::process::id()));
        workload.write_to(&dir).unwrap();
        let back = Workload::read_from("small", &dir).unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(back.rampart_files, workload.rampart_files);
        assert_eq!(back.cedar_policies, workload.cedar_policies);
        assert_eq!(back.rego_data_json, workload.rego_data_json);
        assert_eq!(back.rego_modules, workload.rego_modules);
        assert!(back.requests.is_empty());
    }
}
