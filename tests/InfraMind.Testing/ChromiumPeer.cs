namespace InfraMind.Testing;

/// <summary>
/// Debian's chromium (tests/peers/chromium/install.sh), the real browser the dashboard's tests drive through
/// Microsoft.Playwright by its executable path: Playwright's own browser download is never used.
/// </summary>
public static class ChromiumPeer
{
    private static readonly string[] Candidates = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"];

    /// <summary>The browser's executable, or <see cref="Peers.Missing"/> (a failure under CI=true) when it is not installed.</summary>
    public static string Executable() =>
        Candidates.FirstOrDefault(File.Exists)
        ?? throw Peers.Missing("chromium is not installed (looked for " + string.Join(", ", Candidates) + ")",
            "run tests/peers/chromium/install.sh (or scripts/setup-peers.sh)");

    /// <summary>Arguments for a headless run as root in a container: no sandbox (it needs user namespaces), no GPU.</summary>
    public static IReadOnlyList<string> Arguments { get; } = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"];
}
