using System.Text.Json;

namespace InfraMind.Oci;

/// <summary>Reading one member of a stranger's JSON object, of one kind, without throwing on any other shape.</summary>
internal static class JsonMember
{
    /// <summary>
    /// The member <paramref name="name"/> of <paramref name="element"/> when <paramref name="element"/> is an object
    /// and the member is of <paramref name="kind"/>; otherwise the default (undefined) element.
    /// </summary>
    public static JsonElement Of(JsonElement element, string name, JsonValueKind kind)
    {
        // The variable is declared before the condition (not 'out var' inside it), so that every mutation of the
        // condition still compiles (an 'out var' behind '&&' had Stryker's safe mode drop all of a method's mutants).
        JsonElement value = default;
        return element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out value) && value.ValueKind == kind ? value : default;
    }
}
