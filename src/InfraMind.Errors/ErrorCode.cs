using System.Text.Json;
using System.Text.Json.Serialization;

namespace InfraMind;

/// <summary>
/// What kind of failure a code is. The command line maps each kind to one exit code (0 is success, 130 an
/// interruption); services map codes to HTTP statuses per endpoint. Never renumber: scripts depend on the exit codes.
/// </summary>
public enum FailureKind
{
    /// <summary>A check failed: invalid manifest, failing model, digest or signature mismatch, refused publish (exit 1).</summary>
    CheckFailed = 1,

    /// <summary>The command line or a value given on it is wrong: unknown option, missing argument, bad path (exit 2).</summary>
    Usage = 2,

    /// <summary>No container engine answers, or it cannot give runs the isolation policy (exit 3).</summary>
    EngineUnavailable = 3,

    /// <summary>A service or peer (registry, storage, gateway, chain) could not be reached or refused the request (exit 4).</summary>
    Unavailable = 4,

    /// <summary>A failure no code describes: a defect in InfraMind, reported without a stack trace (exit 70, EX_SOFTWARE of sysexits.h).</summary>
    Internal = 70,

    /// <summary>Interrupted (Ctrl-C, SIGTERM) after cleaning up (exit 130, as shells report SIGINT).</summary>
    Interrupted = 130,
}

/// <summary>
/// A stable error code (<c>IMnnnn</c>) with the kind of failure it is. Codes are declared once, as static fields of one
/// <c>…ErrorCodes</c> class per assembly, documented in docs/errors.md, and never renumbered: scripts match on them.
/// </summary>
/// <param name="Value">The code as users see it, e.g. <c>IM4002</c>.</param>
/// <param name="Kind">What kind of failure it is; decides the exit code.</param>
/// <param name="DefaultHint">How to fix it, when the same advice holds wherever the code is raised.</param>
[JsonConverter(typeof(ErrorCodeJsonConverter))]
public sealed record ErrorCode(string Value, FailureKind Kind, string? DefaultHint = null)
{
    /// <summary>The code as users see it, so that an interpolated code prints as <c>IM4002</c>.</summary>
    public override string ToString() => Value;

    /// <summary>Two codes are the same code when their values are equal, whatever hint a declaration carries.</summary>
    public bool Equals(ErrorCode? other) => other is not null && string.Equals(Value, other.Value, StringComparison.Ordinal);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    /// <summary>
    /// A code is its string wherever one is written (a report's <c>code</c> field, a problem document, a log line), so
    /// records that carry codes as text take a declared code as it is.
    /// </summary>
    public static implicit operator string(ErrorCode code) => code?.Value!;

    /// <summary>True when <paramref name="value"/> has the form <c>IM</c> followed by four digits.</summary>
    public static bool IsWellFormed(string? value) =>
        value is { Length: 6 } && value.StartsWith("IM", StringComparison.Ordinal) && value.AsSpan(2).IndexOfAnyExceptInRange('0', '9') < 0;
}

/// <summary>Writes a code as its string value (<c>"IM4002"</c>); reads one back, of unknown kind <see cref="FailureKind.CheckFailed"/>.</summary>
public sealed class ErrorCodeJsonConverter : JsonConverter<ErrorCode>
{
    public override ErrorCode Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetString();
        return ErrorCode.IsWellFormed(value) ? new ErrorCode(value!, FailureKind.CheckFailed) : throw new JsonException($"'{value}' is not an error code (IM followed by four digits)");
    }

    public override void Write(Utf8JsonWriter writer, ErrorCode value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteStringValue(value.Value);
    }
}
