//! Embeds the git revision (`GIT_REVISION_OF_THIS_BUILD` at compile time — not a `WEIR_*` name:
//! `cargo run` hands it to the broker, which reads every `WEIR_*` variable as a setting; short hash, `-dirty` with uncommitted changes)
//! for `weir --version` and `weir_build_info`; `unknown` when not built from a git checkout
//! (a crate tarball) or without git. `WEIR_GIT_REVISION` in the build environment overrides.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=WEIR_GIT_REVISION");
    let revision = std::env::var("WEIR_GIT_REVISION").ok().filter(|r| !r.is_empty()).or_else(|| {
        let hash = git(&["rev-parse", "--short=12", "HEAD"]).filter(|h| !h.is_empty())?;
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        Some(if dirty { format!("{hash}-dirty") } else { hash })
    });
    // Rebuild when HEAD moves (a commit, a checkout) so the revision stays true.
    // `--git-path` resolves worktrees' refs into the common directory.
    for path in ["HEAD".to_owned()].into_iter().chain(git(&["symbolic-ref", "-q", "HEAD"])) {
        if let Some(file) = git(&["rev-parse", "--git-path", &path]) {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rustc-env=GIT_REVISION_OF_THIS_BUILD={}", revision.unwrap_or_else(|| "unknown".to_owned()));
}
