using Xunit;
using Xunit.Sdk;

namespace InfraMind.Testing;

/// <summary>
/// What a test does when something it needs is missing (the engine, a base image, a peer): it never returns early and
/// passes. When peers are <see cref="Required"/> it fails; otherwise it is reported as skipped, with how to install
/// what is missing. A test that can be skipped is a <c>[SkippableFact]</c> or <c>[SkippableTheory]</c>; under a plain
/// <c>[Fact]</c> the skip is a failure, which is the safe side.
/// </summary>
public static class Peers
{
    /// <summary>
    /// <c>1</c>: a missing peer fails the test. scripts/test.sh (README's test command) sets it unless the caller set
    /// it: <c>INFRAMIND_REQUIRE_PEERS=0 ./scripts/test.sh</c> is a developer's run without them, reported as skipped.
    /// </summary>
    public const string RequireVariable = "INFRAMIND_REQUIRE_PEERS";

    /// <summary>
    /// True under <c>CI=true</c> (whatever else is set: CI never skips) or <c>INFRAMIND_REQUIRE_PEERS=1</c>; a plain
    /// <c>dotnet test</c> leaves it false, so a developer without a peer sees skips, not failures.
    /// </summary>
    public static bool Required { get; } =
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase) ||
        Environment.GetEnvironmentVariable(RequireVariable) == "1";

    /// <summary>
    /// The exception to throw when <paramref name="what"/> is missing: a failure when peers are required, otherwise a
    /// skip. <paramref name="fix"/> says how to provide it (e.g. the install script).
    /// </summary>
    public static Exception Missing(string what, string fix) => Required
        ? new XunitException($"{what} (peers are required: CI=true or {RequireVariable}=1): {fix}")
        : new Xunit.SkipException($"{what}: {fix}. Skipped because peers are optional in this run ({RequireVariable}=1 or CI=true makes this a failure).");
}
