/// The admin API's types, server protocol and client, generated at build time from `docs/openapi.yaml`
/// (linked here as `openapi.yaml`) by swift-openapi-generator. The document is the source of truth: change
/// the API there, never in generated code.
public enum MeridianAPIDocument {
    /// Where the document lives in the repository.
    public static let path = "docs/openapi.yaml"
}
