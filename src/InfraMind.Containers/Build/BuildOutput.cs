using System.Text;
using System.Text.RegularExpressions;
using Docker.DotNet.Models;

namespace InfraMind.Containers.Build;

/// <summary>
/// Turns the engine's build message stream into whole lines for the caller, and remembers what a failure report
/// needs: the step being run and the last lines of output.
/// </summary>
/// <remarks>
/// Reports synchronously on purpose: <see cref="Progress{T}"/> would post each message to the thread pool, so lines
/// could reach the caller out of order.
/// </remarks>
internal sealed partial class BuildOutput(IProgress<string>? progress) : IProgress<JSONMessage>
{
    private const int TailLines = 40;
    private readonly Queue<string> _tail = new();
    private readonly StringBuilder _partial = new();
    private readonly Lock _lock = new();

    public string? CurrentStep { get; private set; }

    public string? Error { get; private set; }

    public string? BuiltImageId { get; private set; }

    public string Tail
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _tail.Concat(_partial.Length > 0 ? [_partial.ToString()] : []));
            }
        }
    }

    public void Report(JSONMessage value)
    {
        lock (_lock)
        {
            if (!string.IsNullOrEmpty(value.Stream))
            {
                _partial.Append(value.Stream);
                EmitCompleteLines();
            }

            if (!string.IsNullOrEmpty(value.Status))
            {
                Emit(value.Status);
            }

            var error = value.Error?.Message ?? value.ErrorMessage;
            if (!string.IsNullOrEmpty(error))
            {
                Error ??= error.Trim();
                Emit("ERROR: " + error.Trim());
            }
        }
    }

    private void EmitCompleteLines()
    {
        var text = _partial.ToString();
        var end = text.LastIndexOf('\n');
        if (end < 0)
        {
            return;
        }

        _partial.Remove(0, end + 1);
        foreach (var line in text[..end].Split('\n'))
        {
            Emit(line.TrimEnd('\r'));
        }
    }

    private void Emit(string line)
    {
        if (StepLine().IsMatch(line))
        {
            CurrentStep = line.Trim();
        }

        var built = BuiltLine().Match(line);
        if (built.Success)
        {
            BuiltImageId = built.Groups[1].Value;
        }

        _tail.Enqueue(line);
        while (_tail.Count > TailLines)
        {
            _tail.Dequeue();
        }

        progress?.Report(line);
    }

    /// <summary>
    /// The image a step's <c>FROM</c> names (<c>Step 1/5 : FROM python:3.10-slim AS base</c>, flags such as
    /// <c>--platform=…</c> skipped); null for another step, <c>scratch</c>, or a name built from build arguments (<c>$BASE</c>).
    /// </summary>
    public static string? FromImage(string? step)
    {
        if (step is null) return null;
        var m = FromStep().Match(step);
        if (!m.Success) return null;
        var image = m.Groups["image"].Value;
        return image.Contains('$', StringComparison.Ordinal) || image.Equals("scratch", StringComparison.OrdinalIgnoreCase) ? null : image;
    }

    /// <summary>A step line: the classic builder's <c>Step 1/5 : …</c>, or Podman's (Buildah's) <c>STEP 1/5: …</c>.</summary>
    [GeneratedRegex(@"^(?:Step \d+/\d+ : |STEP \d+/\d+: )")]
    private static partial Regex StepLine();

    [GeneratedRegex(@"^(?:Step \d+/\d+ : |STEP \d+/\d+: )FROM\s+(?:--\S+\s+)*(?<image>\S+)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex FromStep();

    [GeneratedRegex(@"^Successfully built ([0-9a-f]+)\s*$")]
    private static partial Regex BuiltLine();
}
