namespace InfraMind.Serving;

/// <summary>
/// The filter of the gateway's state document (<c>GET /inference/v1?filter=TEXT</c>, <c>infra mesh status --filter</c>,
/// the dashboard's field): a model or a node is kept when its name (a node's id) contains the text in any case.
/// A placement stays listed under its model whichever node it is on. One rule, for the gateway that filters and the
/// client that filters again what a gateway without the parameter sent whole.
/// </summary>
public static class StateFilter
{
    /// <summary>The query parameter that carries the text.</summary>
    public const string Parameter = "filter";

    /// <summary>True when <paramref name="name"/> is kept by <paramref name="text"/> (no text keeps everything).</summary>
    public static bool Keeps(string? text, string? name) =>
        string.IsNullOrEmpty(text) || (name ?? "").Contains(text, StringComparison.OrdinalIgnoreCase);
}
