//! Installs the web interface's third-party browser code (`web/package-lock.json`, uPlot)
//! with `npm ci` into the build's own directory, never into the source tree, so that
//! `cargo build` is the only build step and the files are embedded in the binary
//! (`src/web/assets.rs`). Nothing is fetched at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("web");
    let web = manifest.join("web");
    for f in ["package.json", "package-lock.json"] {
        println!("cargo:rerun-if-changed=web/{f}");
    }
    std::fs::create_dir_all(&out).expect("creating OUT_DIR/web");
    let lock = std::fs::read(web.join("package-lock.json")).expect("reading web/package-lock.json");
    let stamp = out.join("installed-lock.json");
    // `npm ci` only when the lockfile changed since the last install in this directory.
    if std::fs::read(&stamp).ok().as_deref() != Some(&lock[..]) || !installed(&out) {
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(web.join(f), out.join(f)).expect("copying the npm manifest");
        }
        let status = Command::new("npm")
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&out)
            .status()
            .unwrap_or_else(|e| {
                panic!("build.rs: cannot run npm ({e}); the web interface's libraries come from web/package-lock.json: install node and npm (Debian: apt-get install npm)")
            });
        assert!(
            status.success(),
            "build.rs: `npm ci` for web/package-lock.json failed ({status})"
        );
        std::fs::write(&stamp, &lock).expect("writing the install stamp");
    }
    println!(
        "cargo:rustc-env=JOBLEDGER_NPM_DIR={}",
        out.join("node_modules").display()
    );
}

fn installed(out: &Path) -> bool {
    out.join("node_modules/uplot/dist/uPlot.iife.min.js")
        .exists()
}
