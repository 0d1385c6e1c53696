//! What a handler's signature tells the document: the request body its extractors read and
//! the answer its return type renders. The route table asks [`describe`] about every handler,
//! so the schemas are those of the types the handler really parses and renders, not a copy
//! written beside them.

use actix_web::{HttpRequest, HttpResponse, web};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::domain::caller::Caller;
use crate::http::answers::Reply;
use crate::http::extract::{AdminCaller, OptionalJson};

/// Where schemas are collected: request bodies are read as serde deserializes them, answers
/// as it serializes them (an `Option` field may be absent from a body but is always written).
pub struct Generators {
    pub requests: SchemaGenerator,
    pub answers: SchemaGenerator,
}

impl Generators {
    /// Generators whose references point into the document's `components.schemas`.
    pub fn new() -> Self {
        let settings = || {
            SchemaSettings::draft2020_12().with(|settings| {
                settings.definitions_path = "/components/schemas".into();
                settings.meta_schema = None;
            })
        };
        Self {
            requests: settings().for_deserialize().into_generator(),
            answers: settings().for_serialize().into_generator(),
        }
    }
}

/// What an operation reads and answers, as far as its handler's types tell.
pub struct Described {
    pub body: Option<RequestBody>,
    /// The success payload's schema (the keys beside `status` and `message`); `None` when the
    /// handler answers bytes (depot files, the backup tar).
    pub answer: Option<Schema>,
}

/// A request body an extractor reads.
pub struct RequestBody {
    pub required: bool,
    pub content: BodyContent,
}

/// How a request body is read.
pub enum BodyContent {
    /// JSON of this schema.
    Json(Schema),
    /// Bytes streamed as they come (an upload, a compressed trace).
    Bytes,
}

/// An extractor's part in the request body: none unless it reads the body.
pub trait RequestPart {
    fn body(_generators: &mut Generators) -> Option<RequestBody> {
        None
    }
}

impl<T: JsonSchema> RequestPart for web::Json<T> {
    fn body(generators: &mut Generators) -> Option<RequestBody> {
        Some(RequestBody {
            required: true,
            content: BodyContent::Json(generators.requests.subschema_for::<T>()),
        })
    }
}

impl<T: JsonSchema> RequestPart for OptionalJson<T> {
    fn body(generators: &mut Generators) -> Option<RequestBody> {
        Some(RequestBody {
            required: false,
            content: BodyContent::Json(generators.requests.subschema_for::<T>()),
        })
    }
}

impl RequestPart for web::Payload {
    fn body(_generators: &mut Generators) -> Option<RequestBody> {
        Some(RequestBody {
            required: false,
            content: BodyContent::Bytes,
        })
    }
}

impl<T: ?Sized> RequestPart for web::Data<T> {}
impl<T> RequestPart for web::Path<T> {}
impl<T> RequestPart for web::Query<T> {}
impl RequestPart for HttpRequest {}
impl RequestPart for Caller {}
impl RequestPart for AdminCaller {}

macro_rules! request_part_for_tuples {
    ($(($($part:ident),*))*) => {$(
        impl<$($part: RequestPart),*> RequestPart for ($($part,)*) {
            fn body(_generators: &mut Generators) -> Option<RequestBody> {
                None$(.or_else(|| $part::body(_generators)))*
            }
        }
    )*};
}

request_part_for_tuples! {
    ()
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
}

/// A handler's return type's part: the payload schema of a typed [`Reply`].
pub trait AnswerPart {
    fn answer(_generators: &mut Generators) -> Option<Schema> {
        None
    }
}

impl AnswerPart for HttpResponse {}

impl<T: JsonSchema> AnswerPart for Reply<T> {
    fn answer(generators: &mut Generators) -> Option<Schema> {
        Some(generators.answers.subschema_for::<T>())
    }
}

/// A typed answer or a hand-built one (an upload's 308): documented by the typed one.
impl<L: AnswerPart, R> AnswerPart for actix_web::Either<L, R> {
    fn answer(generators: &mut Generators) -> Option<Schema> {
        L::answer(generators)
    }
}

impl<R: AnswerPart, E> AnswerPart for Result<R, E> {
    fn answer(generators: &mut Generators) -> Option<Schema> {
        R::answer(generators)
    }
}

/// Reads a handler's signature: its extractors (`Args`) and its output.
pub fn describe<F, Args>(_handler: &F, generators: &mut Generators) -> Described
where
    F: actix_web::Handler<Args>,
    Args: RequestPart,
    F::Output: AnswerPart,
{
    Described {
        body: Args::body(generators),
        answer: F::Output::answer(generators),
    }
}
