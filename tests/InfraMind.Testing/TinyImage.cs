using InfraMind.Containers;

namespace InfraMind.Testing;

/// <summary>A few-kilobyte image built FROM scratch, for tests that move images around rather than run them.</summary>
public static class TinyImage
{
    public static async Task<string> EnsureAsync(ContainerEngine engine, string tag = "inframind-test-tiny:1")
    {
        if (await engine.ImageExistsAsync(tag, CancellationToken.None)) return tag;
        using var context = new TempDirectory("im-tiny");
        context.Write("Dockerfile", "FROM scratch\nCOPY payload.txt /payload.txt\n");
        context.Write("payload.txt", $"tiny test image {tag}\n");
        await engine.BuildImageAsync(context.Path, tag, new Dictionary<string, string> { ["org.inframind.test"] = "tiny" }, null, CancellationToken.None);
        return tag;
    }
}
