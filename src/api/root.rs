//! `/`: a person who opens the server's address lands in the interactive docs. Hidden from the
//! published spec, which describes the API, not the welcome mat.

use poem_openapi::{ApiResponse, OpenApi};

pub struct RootApi;

#[derive(ApiResponse)]
pub enum RootResponse {
    /// Go to Swagger UI.
    #[oai(status = 307)]
    ToDocs(#[oai(header = "Location")] String),
}

#[OpenApi]
impl RootApi {
    #[oai(path = "/", method = "get", hidden)]
    async fn root(&self) -> RootResponse {
        RootResponse::ToDocs("/docs".to_owned())
    }
}
