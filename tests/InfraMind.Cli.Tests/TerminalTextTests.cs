using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// What infra prints may quote a stranger: a package's build output, a model's answers and logs. No control sequence of
/// theirs reaches the terminal (a colour, a cleared screen, a window title, a carriage return over infra's own words),
/// whether in a failure's message or in a command's report; each shows as <c>\uXXXX</c>.
/// </summary>
public sealed class TerminalTextTests : IDisposable
{
    private const string Hostile = @"\033[2J\033]0;owned\007\033[31mred\rerror IM0000: forged";
    private const string Shown = @"\u001B[2J\u001B]0;owned\u0007\u001B[31mred\u000Derror IM0000: forged";

    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [Fact]
    public void Piped_output_keeps_a_long_line_whole()
    {
        // publish's "✓ REFERENCE verified: image DIGEST" is ~190 characters for an oci:// reference; it was broken at 160,
        // the digest on a line of its own, where a script grepping for it found half.
        var output = new StringWriter();
        var context = new CliContext(output, TextWriter.Null, new Dictionary<string, string?>(), interactive: false);
        var digest = "sha256:" + new string('a', 64);
        var line = $"✓ oci://127.0.0.1:5000/some/long/repository/name@{digest} verified: image {digest}";
        Spectre.Console.AnsiConsoleExtensions.MarkupLine(context.Console, ConsoleText.Escape(line));
        Assert.Equal(line, output.ToString().TrimEnd('\n'));
    }

    [Fact]
    public void A_strangers_text_is_quoted_escaped_and_cut_never_splitting_a_surrogate_pair()
    {
        Assert.Equal("'abc'", TerminalText.Quote("abc", 3));
        Assert.Equal("'ab…'", TerminalText.Quote("abc", 2));
        Assert.Equal("'ab…' (3 characters)", TerminalText.Quote("abc", 2, sayLength: true));
        Assert.Equal(@"'a\u001B[31m'", TerminalText.Quote("a\u001b[31m", 10));
        // A cut inside a surrogate pair keeps neither half.
        Assert.Equal("'a…'", TerminalText.Quote("a\U0001F600b", 2));
        Assert.Equal("a\U0001F600", TerminalText.Cut("a\U0001F600b", 3));
        Assert.Equal("", TerminalText.Cut("abc", 0));
    }

    [SkippableFact]
    public async Task A_builds_output_is_shown_escaped_in_the_failure_and_in_the_test_report()
    {
        using var engine = await TestEngine.ConnectAsync();
        var dir = Path.Combine(_cli.Work, "noisy");
        Assert.Equal(0, (await _cli.RunAsync("init", "noisy", "--dir", dir)).Code);
        var dockerfile = Path.Combine(dir, "Dockerfile");
        var lines = (await File.ReadAllLinesAsync(dockerfile)).ToList();
        lines.Insert(2, $"RUN printf '{Hostile}\\n' && exit 3");
        await File.WriteAllLinesAsync(dockerfile, lines);

        var (code, output, error) = await _cli.RunAsync("build", dir);
        Assert.Equal(1, code);
        Assert.StartsWith("error IM3002: ", error, StringComparison.Ordinal);
        Assert.Contains(Shown, error, StringComparison.Ordinal);
        AssertNoControl(output + error);

        (code, output, error) = await _cli.RunAsync("test", "--container", dir);
        Assert.Equal(1, code);
        Assert.Contains(Shown, output + error, StringComparison.Ordinal);
        AssertNoControl(output + error);
    }

    private static void AssertNoControl(string text)
    {
        var control = text.FirstOrDefault(c => char.IsControl(c) && c is not '\n' and not '\t');
        Assert.True(control == default, $"U+{(int)control:X4} reached the terminal in:\n{text}");
    }
}
