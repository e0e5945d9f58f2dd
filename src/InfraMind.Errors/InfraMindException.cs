namespace InfraMind;

/// <summary>
/// A failure a user can act on. Every InfraMind library throws this type (or a subclass) for what a user can hit:
/// a typed <see cref="Code"/>, a <see cref="Exception.Message"/> that says what happened and where (never the code
/// itself), and a <see cref="Hint"/> that says how to fix it. Front ends map it in one place (the command line: exit
/// code, message, <c>--json</c> error object; services: a problem document).
/// </summary>
public class InfraMindException : Exception
{
    private readonly string? _hint;

    public InfraMindException(ErrorCode code, string message, string? hint = null, Exception? innerException = null)
        : base(message, innerException)
    {
        ArgumentNullException.ThrowIfNull(code);
        Code = code;
        _hint = hint;
    }

    public ErrorCode Code { get; }

    /// <summary>How to fix it: the one given where it was raised, else the code's default; null when there is nothing to add.</summary>
    public string? Hint => _hint ?? Code.DefaultHint;

    public FailureKind Kind => Code.Kind;
}
