using System.Text.Json;

namespace InfraMind.Serving;

public static class MeshJson
{
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        o.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower));
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}
