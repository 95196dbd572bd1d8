//! The command line as an operator meets it: shell completions, the manual
//! page, what `--help` lists and points to, and `NO_COLOR`. Each test runs
//! the binary and reads what it prints.

use std::process::{Command, Output};

use crate::binary::BIN;

/// Runs the binary with `args`, no `WSAUTH_*` from the test's environment.
fn wsauth(args: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WSAUTH_") {
            command.env_remove(name);
        }
    }
    command.args(args).output().expect("run wsauth")
}

/// Stdout of a run that must succeed.
fn stdout_of(args: &[&str]) -> String {
    let out = wsauth(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn completions_for_each_shell_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout_of(&["completions", shell]);
        for word in ["serve", "user", "passwd", "revoke", "completions", "data-dir", "listen"] {
            assert!(script.contains(word), "{shell} completions do not mention {word}");
        }
    }
    let out = wsauth(&["completions", "tcsh"]);
    assert!(!out.status.success(), "an unknown shell was accepted");
}

#[test]
fn the_manual_page_renders_with_man() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("wsauth.1");
    std::fs::write(&page, stdout_of(&["man"])).expect("write page");
    let pages = dir.path().join("all");
    std::fs::create_dir(&pages).expect("mkdir");
    stdout_of(&["man", "--dir", pages.to_str().expect("utf-8 path")]);
    for name in ["wsauth.1", "wsauth-serve.1", "wsauth-user.1", "wsauth-user-add.1"] {
        assert!(pages.join(name).is_file(), "man --dir wrote no {name}");
    }
    for (file, expected) in
        [(page, "--hmac-secret"), (pages.join("wsauth-user-revoke.1"), "--issuer")]
    {
        let out = Command::new("man")
            .arg("-l")
            .arg(&file)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .expect("man -l (man-db; test.sh installs it)");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "man -l {file:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("NAME") && text.contains(expected), "{file:?} rendered as:\n{text}");
    }
}

#[test]
fn user_help_lists_only_what_user_commands_read() {
    for args in [&["user", "--help"][..], &["user", "list", "--help"], &["help", "user", "add"]] {
        let help = stdout_of(args);
        for flag in ["--config", "--data-dir", "--database-url"] {
            assert!(help.contains(flag), "{args:?} does not list {flag}:\n{help}");
        }
        for flag in ["--listen", "--hmac-secret", "--proxy", "--admin-api-key", "--access-ttl"] {
            assert!(!help.contains(flag), "{args:?} lists the server's {flag}:\n{help}");
        }
    }
    // The server's help still lists them all.
    assert!(stdout_of(&["serve", "--help"]).contains("--hmac-secret"));
}

#[test]
fn server_flags_are_still_accepted_around_user_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().to_str().expect("utf-8 path");
    stdout_of(&["--data-dir", data, "user", "list"]);
    stdout_of(&["user", "list", "--data-dir", data, "--listen", "127.0.0.1:1"]);
    assert!(dir.path().join("wsauth.db").exists(), "the data dir was not used");
}

#[test]
fn help_names_the_file_only_settings_and_the_reference() {
    for args in [&["--help"][..], &["serve", "--help"], &["-h"]] {
        let help = stdout_of(args);
        assert!(
            help.contains("exist only in the configuration file")
                && help.contains("docs/configuration.md"),
            "{args:?} does not point to the configuration reference:\n{help}"
        );
    }
}

/// Runs `args` on a pseudo-terminal (util-linux `script`), so that colour
/// would be on; returns everything written there.
fn on_a_terminal(args: &str, no_color: Option<&str>) -> String {
    let mut command = Command::new("script");
    command.args(["-qec", &format!("{BIN} {args}"), "/dev/null"]).env_remove("WSAUTH_LOG");
    match no_color {
        Some(value) => command.env("NO_COLOR", value),
        None => command.env_remove("NO_COLOR"),
    };
    let out = command.output().expect("script (util-linux)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn no_color_turns_off_colour_in_help_and_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    // At debug level a user command logs its database opening.
    let list = format!("user list --log debug --data-dir {}", dir.path().display());
    for args in ["--help", list.as_str()] {
        let coloured = on_a_terminal(args, None);
        assert!(coloured.contains('\x1b'), "{args}: no colour on a terminal:\n{coloured}");
        let plain = on_a_terminal(args, Some("1"));
        assert!(!plain.contains('\x1b'), "{args}: colour despite NO_COLOR:\n{plain}");
        assert!(plain.len() > 20, "{args}: nothing printed");
    }
    // An empty NO_COLOR does not count (no-color.org).
    assert!(on_a_terminal(&list, Some("")).contains('\x1b'));
}
