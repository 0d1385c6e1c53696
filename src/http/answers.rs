//! Typed success answers: the envelope around a payload whose type also documents it in the
//! OpenAPI document. A resource answers as `{"<one>": {...}}`, a list as
//! `{"<many>": [...], "total": n}`, items projected onto the `fields[]` asked for.

use std::borrow::Cow;
use std::marker::PhantomData;

use actix_web::body::BoxBody;
use actix_web::{HttpRequest, HttpResponse, Responder, ResponseError};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::listing::Page;

/// A success answer whose payload type is known: rendered as [`success`] renders it.
pub struct Reply<T> {
    message: &'static str,
    payload: T,
}

/// A typed success answer (see [`Reply`]).
pub fn reply<T>(message: &'static str, payload: T) -> Result<Reply<T>, ApiError> {
    Ok(Reply { message, payload })
}

impl<T: Serialize> Responder for Reply<T> {
    type Body = BoxBody;

    fn respond_to(self, _req: &HttpRequest) -> HttpResponse {
        success(self.message, self.payload).unwrap_or_else(|error| error.error_response())
    }
}

/// The envelope alone: the answer of a change that returns nothing (`success(msg, ())`).
pub struct Nothing;

impl Serialize for Nothing {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl JsonSchema for Nothing {
    fn schema_name() -> Cow<'static, str> {
        "Nothing".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "object", "description": "no payload beside status and message"})
    }
}

/// A success answer with nothing beside the envelope.
pub fn done(message: &'static str) -> Result<Reply<Nothing>, ApiError> {
    reply(message, Nothing)
}

/// The answer of a request that started background work: the task to watch.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskStarted {
    pub task_name: String,
}

/// A resource the API answers with: the keys it appears under.
pub trait Resource: JsonSchema {
    /// The key of one (`"app"`).
    const ONE: &'static str;
    /// The key of a list (`"apps"`), also a list answer's message.
    const MANY: &'static str;
    /// The fields `fields[]` may name, when not only those it serializes (see [`project`]).
    const FIELDS: Option<&'static [&'static str]> = None;
}

/// One resource under its key: `{"app": {...}}`.
pub struct One<T>(pub T);

impl<T: Resource + Serialize> Serialize for One<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(T::ONE, &self.0)?;
        map.end()
    }
}

impl<T: Resource> JsonSchema for One<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}Answer", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        keyed(T::ONE, generator.subschema_for::<T>())
    }
}

/// A resource projected onto the `fields[]` a caller asked for: any of its fields may be
/// absent.
pub struct Partial<T> {
    value: Value,
    resource: PhantomData<T>,
}

impl<T: Resource + Serialize> Partial<T> {
    /// Projects `resource` onto `fields` (all fields when empty).
    pub fn of(resource: T, fields: &[String]) -> Result<Self, ApiError> {
        Ok(Self {
            value: project(resource, fields, T::FIELDS)?,
            resource: PhantomData,
        })
    }
}

impl<T> Serialize for Partial<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

/// A projected resource answers under its resource's keys: `One<Partial<App>>` is
/// `{"app": {...}}` with the fields asked for.
impl<T: Resource> Resource for Partial<T> {
    const ONE: &'static str = T::ONE;
    const MANY: &'static str = T::MANY;
    const FIELDS: Option<&'static [&'static str]> = T::FIELDS;
}

impl<T: Resource> JsonSchema for Partial<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}Fields", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = T::json_schema(generator);
        schema.remove("required");
        schema
    }
}

/// A page of a list: `{"apps": [...], "total": n}`, `total` counted before paging.
pub struct Listed<T> {
    items: Vec<Partial<T>>,
    total: usize,
}

impl<T: Resource> Serialize for Listed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry(T::MANY, &self.items)?;
        map.serialize_entry("total", &self.total)?;
        map.end()
    }
}

impl<T: Resource> JsonSchema for Listed<T> {
    fn schema_name() -> Cow<'static, str> {
        format!("{}Page", T::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let items = generator.subschema_for::<Partial<T>>();
        json_schema!({
            "type": "object",
            "required": [T::MANY, "total"],
            "properties": {
                (T::MANY): {"type": "array", "items": items},
                "total": {"type": "integer", "minimum": 0},
            },
        })
    }
}

/// A list answer: the page's items projected onto `fields` (any of their own fields).
pub fn reply_page<T: Resource + Serialize>(
    page: Page<T>,
    fields: &[String],
) -> Result<Reply<Listed<T>>, ApiError> {
    let items = page
        .items
        .into_iter()
        .map(|item| Partial::of(item, fields))
        .collect::<Result<Vec<_>, _>>()?;
    reply(
        T::MANY,
        Listed {
            items,
            total: page.total,
        },
    )
}

/// `{"<key>": schema}`, the key required.
fn keyed(key: &str, schema: Schema) -> Schema {
    json_schema!({
        "type": "object",
        "required": [key],
        "properties": {(key): schema},
    })
}

/// A 200 with the success envelope around `payload` (an object, or `()` for none).
fn success(message: &str, payload: impl Serialize) -> Result<HttpResponse, ApiError> {
    let mut body = Map::new();
    body.insert("status".into(), Value::from("success"));
    body.insert("message".into(), Value::from(message));
    match serde_json::to_value(payload) {
        Ok(Value::Object(fields)) => body.extend(fields),
        Ok(Value::Null) => {}
        Ok(_) | Err(_) => return Err(ApiError::internal()),
    }
    Ok(HttpResponse::Ok().json(Value::Object(body)))
}

/// Projects a resource object onto the `fields[]` a caller asked for (all when none); a field
/// outside `allowed` (by default the object's own keys) is a 400.
fn project(
    resource: impl Serialize,
    fields: &[String],
    allowed: Option<&[&str]>,
) -> Result<Value, ApiError> {
    let value = serde_json::to_value(resource).map_err(|_| ApiError::internal())?;
    if fields.is_empty() {
        return Ok(value);
    }
    let Value::Object(object) = value else {
        return Err(ApiError::internal());
    };
    let own: Vec<&str> = object.keys().map(String::as_str).collect();
    let allowed = allowed.unwrap_or(&own);
    if let Some(unknown) = fields.iter().find(|f| !allowed.contains(&f.as_str())) {
        return Err(ApiError::invalid(format!(
            "fields[] names unknown field {unknown:?}; use any of {}",
            allowed.join(", ")
        )));
    }
    Ok(Value::Object(
        object
            .into_iter()
            .filter(|(key, _)| fields.contains(key))
            .collect(),
    ))
}
