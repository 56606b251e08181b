//! The files a guest script sent back (a base64 tar on its stdout), unpacked on the host.
#![allow(dead_code)]

use super::GuestRun;

pub struct GuestFiles {
    pub kernel: String,
    pub dir: tempfile::TempDir,
}

impl GuestFiles {
    /// Unpacks what the script printed; the script itself must have exited 0.
    pub fn unpack(kernel: &str, run: &GuestRun) -> GuestFiles {
        assert_eq!(
            run.status, 0,
            "{kernel}: the guest script failed: {}",
            run.stderr
        );
        let dir = tempfile::tempdir().unwrap();
        super::unpack_tar_b64(&run.stdout, dir.path());
        GuestFiles {
            kernel: kernel.into(),
            dir,
        }
    }

    pub fn text(&self, rel: &str) -> String {
        let p = self.dir.path().join(rel);
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {}: {e}", self.kernel, p.display()))
    }

    /// A file holding one exit status, as the scripts write `$?`.
    pub fn status(&self, rel: &str) -> i32 {
        self.text(rel)
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{}: {rel}: {e}", self.kernel))
    }
}
