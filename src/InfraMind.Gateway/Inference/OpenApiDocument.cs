using System.Text.Json.Nodes;

namespace InfraMind.Gateway.Inference;

/// <summary>An OpenAPI 3.1 description of one model's endpoints, built from its input and output schemas.</summary>
internal static class OpenApiDocument
{
    public static JsonObject For(ServedModel model)
    {
        var name = model.Published.Name;
        var version = model.Published.Version.ToString();
        JsonObject Operation(string summary) => new()
        {
            ["summary"] = summary,
            ["operationId"] = summary.Contains("version", StringComparison.Ordinal) ? "inferVersion" : "infer",
            ["requestBody"] = new JsonObject
            {
                ["required"] = true,
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = model.Manifest.InputSchema.Document.DeepClone() } },
            },
            ["responses"] = new JsonObject
            {
                ["200"] = Json("the model's answer; headers name the node and the attempts", model.Manifest.OutputSchema.Document.DeepClone()),
                ["400"] = Problem("the body is not JSON or does not match the input schema (errors[] with JSON Pointers)"),
                ["404"] = Problem("no such model or version"),
                ["413"] = Problem("the body is larger than the gateway accepts"),
                ["415"] = Problem("the body is not application/json"),
                ["502"] = Problem("every attempt failed; attempts[] gives each node's verdict"),
                ["503"] = Problem("no node is ready or the version is quarantined; see Retry-After"),
            },
        };
        var paths = new JsonObject
        {
            [$"/inference/v1/{name}"] = new JsonObject { ["post"] = Operation($"Run {name} (latest version)") },
            [$"/inference/v1/{name}/versions/{version}"] = new JsonObject { ["post"] = Operation($"Run {name} version {version}") },
        };
        return new JsonObject
        {
            ["openapi"] = "3.1.0",
            ["info"] = new JsonObject { ["title"] = name, ["version"] = version, ["description"] = $"InfraMind model {name} {version}, manifest {model.Manifest.ManifestDigest}" },
            ["jsonSchemaDialect"] = "http://json-schema.org/draft-07/schema#",
            ["paths"] = paths,
        };
    }

    private static JsonObject Json(string description, JsonNode? schema) => new()
    {
        ["description"] = description,
        ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = schema } },
    };

    private static JsonObject Problem(string description) => new()
    {
        ["description"] = description,
        ["content"] = new JsonObject { ["application/problem+json"] = new JsonObject { ["schema"] = new JsonObject { ["type"] = "object" } } },
    };
}
