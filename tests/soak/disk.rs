//! Full disks for the soak: each node's data directory is a small tmpfs of
//! its own, which the nemesis fills to its limit and later empties again.
//! Mounting needs root; without it the soak runs without this fault.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Each node's tmpfs; `MiB`, far more than the soak's data needs.
const DATA_DIR_MIB: u64 = 32;
/// The file that fills a data directory.
const FILLER: &str = "soak-filler";

/// The mounted data directories under `root`; unmounted (lazily, even
/// while a node still has files open) when dropped, and `root` removed: the
/// cluster's `TempDir` could not remove mount points.
pub struct DataMounts {
    root: PathBuf,
    keep: bool,
    mounted: Vec<PathBuf>,
}

impl DataMounts {
    /// Mounts a tmpfs at `dir/node-i/data` for nodes 1..=3, or explains why
    /// it could not (and leaves nothing mounted). `keep` leaves `dir` in
    /// place when dropped (the data directories are gone with their tmpfs).
    pub fn mount(dir: &Path, keep: bool) -> Result<DataMounts, String> {
        let mut mounts = DataMounts {
            root: dir.to_path_buf(),
            keep,
            mounted: Vec::new(),
        };
        for id in 1..=3 {
            let data_dir = dir.join(format!("node-{id}")).join("data");
            std::fs::create_dir_all(&data_dir).map_err(|error| error.to_string())?;
            let output = Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={DATA_DIR_MIB}m"),
                    "tmpfs",
                ])
                .arg(&data_dir)
                .output()
                .map_err(|error| format!("run mount: {error}"))?;
            if !output.status.success() {
                return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
            }
            mounts.mounted.push(data_dir);
        }
        Ok(mounts)
    }
}

impl Drop for DataMounts {
    fn drop(&mut self) {
        for data_dir in &self.mounted {
            let _ = Command::new("umount").arg("-l").arg(data_dir).status();
        }
        if !self.mounted.is_empty() && !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Writes a filler file into `data_dir` until the file system refuses more.
pub fn fill(data_dir: &Path) {
    let chunk = vec![0_u8; 1024 * 1024];
    let mut file = std::fs::File::create(data_dir.join(FILLER)).expect("create the filler");
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
}

/// Writes a filler file into `data_dir` until `left` bytes are free (or
/// the file system refuses more).
pub fn fill_leaving(data_dir: &Path, left: u64) {
    let chunk = vec![0_u8; 1024 * 1024];
    let mut file = std::fs::File::create(data_dir.join(FILLER)).expect("create the filler");
    loop {
        let free = free_bytes(data_dir);
        if free <= left {
            break;
        }
        let step = (free - left).min(chunk.len() as u64) as usize;
        if file.write_all(&chunk[..step]).is_err() {
            break;
        }
    }
    let _ = file.sync_all();
}

/// Bytes free on the file system holding `dir`, as `df` says (0 if it says nothing).
fn free_bytes(dir: &Path) -> u64 {
    cairn_tests::free_bytes(dir).unwrap_or(0)
}

/// Gives the space back.
pub fn empty(data_dir: &Path) {
    std::fs::remove_file(data_dir.join(FILLER)).expect("remove the filler");
}
