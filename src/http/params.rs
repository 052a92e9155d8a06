//! Query-string parsing with cc-backend's parameter names. Unknown parameters and bad
//! values are a 400 that names the parameter, never silently ignored.

use super::ApiError;
use serde::de::value::MapDeserializer;
use serde::de::DeserializeOwned;
use std::str::FromStr;

pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(
        raw: Option<&str>,
        allowed: &[impl AsRef<str>],
    ) -> Result<Params, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("malformed query string: {e}")))?;
        let known = |k: &str| allowed.iter().any(|a| a.as_ref() == k);
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !known(k)) {
            let names: Vec<&str> = allowed.iter().map(AsRef::as_ref).collect();
            return Err(ApiError::bad_request(format!(
                "unknown parameter {k:?} (known: {})",
                names.join(", ")
            )));
        }
        Ok(Params(pairs))
    }

    /// The parameters as a typed struct (unknown ones are left to the route). A key given
    /// twice is a 400 unless it is `repeatable`; then its values reach the field joined
    /// by `,`. A bad value is a 400 that names the parameter.
    pub(super) fn deserialize<T: DeserializeOwned>(
        &self,
        repeatable: &[&str],
    ) -> Result<T, ApiError> {
        let mut merged: Vec<(String, String)> = Vec::with_capacity(self.0.len());
        for (k, v) in &self.0 {
            match merged.iter_mut().find(|(m, _)| m == k) {
                Some((_, joined)) if repeatable.contains(&k.as_str()) => {
                    joined.push(',');
                    joined.push_str(v);
                }
                Some(_) => {
                    return Err(ApiError::bad_request(format!(
                        "parameter {k:?} given twice"
                    )))
                }
                None => merged.push((k.clone(), v.clone())),
            }
        }
        let pairs = MapDeserializer::<_, serde::de::value::Error>::new(merged.into_iter());
        serde_path_to_error::deserialize(pairs)
            .map_err(|e| ApiError::bad_request(format!("{}: {}", e.path(), e.inner())))
    }

    pub(super) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter given at most once.
    pub(super) fn one<'a>(&'a self, key: &'a str) -> Result<Option<&'a str>, ApiError> {
        let mut it = self.all(key);
        let first = it.next();
        if it.next().is_some() {
            return Err(ApiError::bad_request(format!(
                "parameter {key:?} given twice"
            )));
        }
        Ok(first)
    }

    pub(super) fn positive(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.one(key)? {
            None => Ok(default),
            Some(v) => v.parse::<i64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::bad_request(format!("{key} must be a whole number >= 1, got {v:?}"))
            }),
        }
    }

    pub(super) fn boolean(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.one(key)? {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(v) => Err(ApiError::bad_request(format!(
                "{key} must be true or false, got {v:?}"
            ))),
        }
    }

    /// A parameter given at most once; an empty value is a mistake, not "no filter".
    pub(super) fn text<'a>(&'a self, key: &'a str) -> Result<Option<&'a str>, ApiError> {
        match self.one(key)? {
            Some("") => Err(ApiError::bad_request(format!("{key} must not be empty"))),
            // Postgres cannot hold NUL in text; SQLite and Postgres must answer alike.
            Some(v) if v.contains('\0') => {
                Err(ApiError::bad_request(format!("{key} must not contain NUL")))
            }
            other => Ok(other),
        }
    }

    /// A parameter parsed by its type's `FromStr`; the error names the parameter.
    pub(super) fn parsed<T>(&self, key: &str) -> Result<Option<T>, ApiError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        self.text(key)?
            .map(|v| {
                v.parse::<T>()
                    .map_err(|e| ApiError::bad_request(format!("{key}: {e}")))
            })
            .transpose()
    }
}
