//! What ships beside the binary: shell completions and the man page
//! (generated from the command-line definitions), the systemd unit and
//! the logrotate file in `contrib/`, each checked by the tool that reads
//! it (bash, man, systemd-analyze, logrotate).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn picket(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_picket"))
        .args(args)
        .output()
        .unwrap()
}

fn contrib(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib")
            .join(name),
    )
    .unwrap()
}

#[test]
fn completions_for_every_shell_know_the_commands_and_options() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = picket(&["generate", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        for word in ["replay", "live", "metrics-listen", "truncate"] {
            assert!(text.contains(word), "{shell} completion lacks {word}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let bash = dir.path().join("picket.bash");
    std::fs::write(&bash, picket(&["generate", "bash"]).stdout).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&bash).output().unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
}

/// The man page, installed under a MANPATH of its own.
fn man_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("man1")).unwrap();
    let page = picket(&["generate", "man"]);
    assert!(page.status.success());
    std::fs::write(dir.path().join("man1/picket.1"), page.stdout).unwrap();
    dir
}

#[test]
fn the_man_page_renders() {
    let dir = man_dir();
    let out = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("man1/picket.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .output()
        .expect("man (man-db)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("NAME") && text.contains("picket"), "{text}");
    assert!(text.contains("replay") && text.contains("live"), "{text}");
}

#[test]
fn the_systemd_unit_verifies_cleanly() {
    let dir = man_dir();
    // As installed, with this build's binary where the unit expects it.
    let unit =
        contrib("picket.service").replace("/usr/local/bin/picket", env!("CARGO_BIN_EXE_picket"));
    for needed in [
        "User=picket",
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(needed), "{needed}");
    }
    let path = dir.path().join("picket.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .env("MANPATH", dir.path())
        .output()
        .expect("systemd-analyze (systemd)");
    let err = String::from_utf8_lossy(&out.stderr);
    // It exits 0 on settings it ignores: any word from it is a fault.
    assert!(out.status.success() && err.trim().is_empty(), "{err}");
}

#[test]
fn the_logrotate_file_parses() {
    let dir = tempfile::tempdir().unwrap();
    let log: PathBuf = dir.path().join("findings.json");
    std::fs::write(&log, "{}\n").unwrap();
    // Its own log path and an existing owner; the rest as shipped.
    let conf = contrib("logrotate.picket")
        .replace("/var/log/picket/findings.json", log.to_str().unwrap())
        .replace("create 0640 picket picket", "create 0640 root root");
    let path = dir.path().join("picket.conf");
    std::fs::write(&path, conf).unwrap();
    let out = Command::new("logrotate")
        .arg("-d")
        .arg("-s")
        .arg(dir.path().join("state"))
        .arg(&path)
        .output()
        .expect("logrotate");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("error"), "{err}");
    assert!(err.contains("findings.json"), "{err}");
}
