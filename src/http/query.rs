//! List query strings: `offset`, `limit`, `order[]`, `fields[]` in every documented form.

use super::error::ApiError;
use crate::domain::listing::{DEFAULT_LIMIT, ListParams, SortKey};

/// A parsed list query; `filters` keeps the remaining parameters for the resource to read
/// (the route table has already refused the ones it does not declare).
#[derive(Debug, Default)]
pub struct ListQuery {
    pub params: ListParams,
    pub fields: Vec<String>,
    pub filters: Vec<(String, String)>,
}

impl ListQuery {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<ListQuery, ApiError> {
        let mut parsed = ListQuery::default();
        parsed.params.limit = DEFAULT_LIMIT;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "offset" => parsed.params.offset = number("offset", &value)?,
                "limit" => parsed.params.limit = number("limit", &value)?,
                "order[]" | "order" => {
                    for item in list_values(&value)? {
                        let key = SortKey::parse(&item).ok_or_else(|| {
                            ApiError::invalid(format!("order[] has an empty entry in {value:?}"))
                        })?;
                        parsed.params.order.push(key);
                    }
                }
                "fields[]" | "fields" => parsed.fields.extend(list_values(&value)?),
                _ => parsed.filters.push((key.into_owned(), value.into_owned())),
            }
        }
        parsed.params.validate().map_err(ApiError::from)?;
        Ok(parsed)
    }

    /// The value of the filter `name`, if given.
    pub fn filter(&self, name: &str) -> Option<String> {
        self.filters
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

fn number(name: &str, value: &str) -> Result<usize, ApiError> {
    value.trim().parse().map_err(|_| {
        ApiError::invalid(format!(
            "{name} must be a non-negative integer, got {value:?}"
        ))
    })
}

/// One value of a list parameter: a JSON array, a bracket list or comma-separated items.
fn list_values(value: &str) -> Result<Vec<String>, ApiError> {
    let trimmed = value.trim();
    let inner = match trimmed.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        Some(inner) => {
            if let Ok(items) = serde_json::from_str::<Vec<String>>(trimmed) {
                return Ok(items);
            }
            if inner.contains('"') {
                return Err(ApiError::invalid(format!("cannot parse list {value:?}")));
            }
            inner
        }
        None => value,
    };
    Ok(inner
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| item.trim_end().to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_form() {
        let q = ListQuery::parse(
            "order[]=-name&order[]=created&fields[]=[\"a\",\"b\"]&fields[]=c,d&limit=5&x=1",
        )
        .expect("parse");
        assert_eq!(q.params.order.len(), 2);
        assert!(q.params.order[0].descending);
        assert_eq!(q.fields, ["a", "b", "c", "d"]);
        assert_eq!(q.params.limit, 5);
        assert_eq!(q.filters, [("x".to_string(), "1".to_string())]);
        let q = ListQuery::parse("order[]=[-name]&order[]=+created").expect("parse");
        assert_eq!(q.params.order[0].field, "name");
        assert!(!q.params.order[1].descending);
        assert!(ListQuery::parse("limit=abc").is_err());
        assert!(ListQuery::parse("limit=5000").is_err());
    }
}
