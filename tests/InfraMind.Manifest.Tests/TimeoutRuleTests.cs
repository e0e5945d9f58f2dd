using InfraMind.Testing;
namespace InfraMind.Manifest.Tests;

/// <summary>
/// One rule for a readiness timeout: model.yaml's `timeout` and `infra test --timeout` (Quantity.TryParseTimeout)
/// accept and refuse the same values, so a value that validates in one place validates in the other.
/// </summary>
public sealed class TimeoutRuleTests : IDisposable
{
    private readonly TempDirectory _temp = new("im-timeout");

    public TimeoutRuleTests() => TempDirectory.Copy(Path.Combine(AppContext.BaseDirectory, "Corpus", "package"), Dir);

    private string Dir => _temp.Path;

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("3s", 3000)]
    [InlineData("2m", 120_000)]
    [InlineData("10m", 600_000)]
    [InlineData("3", 3000)]
    [InlineData("0.25", 250)]
    [InlineData("600", 600_000)]
    public void A_valid_timeout_is_the_same_duration_on_the_command_line_and_in_model_yaml(string text, int milliseconds)
    {
        Assert.True(Quantity.TryParseTimeout(text, out var fromCommandLine, out var error), error);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), fromCommandLine);
        var manifest = Validate(text).Manifest;
        Assert.NotNull(manifest);
        Assert.Equal(fromCommandLine, manifest.ReadinessTimeout);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0s")]
    [InlineData("-1")]
    [InlineData("601")]
    [InlineData("11m")]
    [InlineData("600001ms")]
    [InlineData("1e300")]
    [InlineData("soon")]
    [InlineData("3h")]
    public void An_invalid_timeout_is_refused_in_both_places_with_IM1033(string text)
    {
        Assert.False(Quantity.TryParseTimeout(text, out _, out var error));
        Assert.Contains("between 1ms and 10m", error, StringComparison.Ordinal);
        Assert.Contains(Validate(text).Errors, e => e.Code == ManifestCodes.InvalidTimeout);
        Assert.Equal(FailureKind.Usage, ManifestCodes.InvalidTimeout.Kind);
    }

    private ManifestValidation Validate(string timeout)
    {
        var yaml = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Corpus", "valid", "spec-example.yaml"));
        var lines = yaml.Split('\n').Where(l => !l.StartsWith("timeout:", StringComparison.Ordinal)).Append($"timeout: {timeout}\n");
        File.WriteAllText(Path.Combine(Dir, "model.yaml"), string.Join('\n', lines));
        return ManifestReader.Validate(Dir);
    }
}
