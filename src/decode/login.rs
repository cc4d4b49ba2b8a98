//! login: clear-text logins of line-based protocols (FTP, POP3, IMAP, SMTP, Telnet), described
//! without the secret.

use crate::decode::protocol::App;

/// Login commands of line-based protocols, described without the password.
pub(crate) fn login_command(app: App, b: &[u8]) -> Option<String> {
    let line_end = b
        .iter()
        .position(|&c| c == b'\r' || c == b'\n')
        .unwrap_or(b.len().min(256));
    let line = std::str::from_utf8(&b[..line_end]).ok()?.trim();
    let upper = line.to_ascii_uppercase();
    let word = |i: usize| line.split_whitespace().nth(i).unwrap_or("");
    match app {
        App::Ftp | App::Pop => {
            if upper.starts_with("USER ") {
                Some(format!("{} USER {}", app.name().to_ascii_uppercase(), word(1)))
            } else if upper.starts_with("PASS ") {
                Some(format!(
                    "{} PASS ({} chars)",
                    app.name().to_ascii_uppercase(),
                    line.len().saturating_sub(5)
                ))
            } else {
                None
            }
        }
        App::Imap => (word(1).eq_ignore_ascii_case("LOGIN")).then(|| format!("IMAP LOGIN {}", word(2))),
        App::Smtp => upper
            .starts_with("AUTH ")
            .then(|| format!("SMTP AUTH {}", word(1).to_ascii_uppercase())),
        App::Telnet => {
            let text = String::from_utf8_lossy(b).to_ascii_lowercase();
            (text.contains("login:") || text.contains("password:")).then(|| "Telnet login prompt".to_string())
        }
        _ => None,
    }
}
