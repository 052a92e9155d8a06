//! Keeping secrets out of log lines and terminal output.

/// `url` without the password of its user-info part (`scheme://user:***@host/…`), for
/// messages. Database and NATS URLs both carry credentials this way. A URL list
/// (NATS accepts several, comma-separated) is redacted item by item.
pub(crate) fn redact_url(url: &str) -> String {
    url.split(',').map(redact_one).collect::<Vec<_>>().join(",")
}

fn redact_one(url: &str) -> String {
    let Some(s) = url.find("://") else {
        return url.to_string();
    };
    // The user-info ends at the last '@' before the path: a password may contain '@'.
    let rest = &url[s + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_and_the_rest_is_kept() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u:p@ss@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://var/a@b.db"), "sqlite://var/a@b.db");
        assert_eq!(
            redact_url("nats://a:x@h1:4222, nats://b:y@h2:4222"),
            "nats://a:***@h1:4222, nats://b:***@h2:4222"
        );
    }
}
