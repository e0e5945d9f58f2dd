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
                ["content"] = new JsonObject { ["application/json"] = new JsonObject { ["schema"] = model.Manifest.InputSchema.Document } },
            },
            ["responses"] = new JsonObject
            {
                ["200"] = Json("the model's answer; headers name the node and the attempts", model.Manifest.OutputSchema.Document),
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
            ["components"] = new JsonObject { ["schemas"] = new JsonObject { ["Problem"] = ProblemSchema() } },
        };
    }

    /// <summary>
    /// The gateway's problem document (RFC 9457 with InfraMind's members, <see cref="ProblemMembers"/>): what every
    /// error answer of the endpoints holds, so a client generated from this document reads <c>code</c> and <c>hint</c>.
    /// </summary>
    internal static JsonObject ProblemSchema()
    {
        static JsonObject Text(string description) => new() { ["type"] = "string", ["description"] = description };
        var verdict = new JsonObject
        {
            ["type"] = "object",
            ["required"] = new JsonArray("node"),
            ["properties"] = new JsonObject
            {
                ["node"] = Text("the node tried"),
                ["verdict"] = new JsonObject { ["type"] = new JsonArray("string", "null"), ["description"] = "what came of it, a verdict of docs/mesh.md" },
                ["detail"] = new JsonObject { ["type"] = new JsonArray("string", "null") },
                ["status"] = new JsonObject { ["type"] = new JsonArray("integer", "null") },
            },
        };
        return new JsonObject
        {
            ["type"] = "object",
            ["required"] = new JsonArray("type", "title", "status", "detail", "code"),
            ["properties"] = new JsonObject
            {
                ["type"] = Text("https://inframind.dev/errors/IMnnnn"),
                ["title"] = Text("a short summary of the problem"),
                ["status"] = new JsonObject { ["type"] = "integer" },
                ["detail"] = Text("what happened, in plain words (never the code)"),
                ["instance"] = Text("the request's path"),
                ["code"] = new JsonObject { ["type"] = "string", ["pattern"] = "^IM[0-9]{4}$", ["description"] = "the stable error code (docs/errors.md)" },
                ["hint"] = Text("how to fix it; absent when there is nothing to add"),
                ["errors"] = new JsonObject
                {
                    ["type"] = "array",
                    ["description"] = "what is wrong with the input, each where (a JSON Pointer) and what",
                    ["items"] = new JsonObject
                    {
                        ["type"] = "object",
                        ["required"] = new JsonArray("message"),
                        ["properties"] = new JsonObject { ["pointer"] = new JsonObject { ["type"] = new JsonArray("string", "null") }, ["message"] = Text("the rule broken") },
                    },
                },
                ["attempts"] = new JsonObject { ["type"] = "array", ["description"] = "each node tried, in order (502)", ["items"] = verdict },
            },
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
        ["content"] = new JsonObject { ["application/problem+json"] = new JsonObject { ["schema"] = new JsonObject { ["$ref"] = "#/components/schemas/Problem" } } },
    };
}
