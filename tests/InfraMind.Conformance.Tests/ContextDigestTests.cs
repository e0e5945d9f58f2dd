using System.Diagnostics;
using InfraMind.Testing;

namespace InfraMind.Conformance.Tests;

/// <summary>
/// The build context's digest hashes what the build sends, and nothing else (found by an audit: it followed links out
/// of the package, read files .dockerignore leaves out, and hung on a FIFO).
/// </summary>
public sealed class ContextDigestTests : IDisposable
{
    private readonly TempDirectory _package = new("im-context");
    private readonly TempDirectory _outside = new("im-context-outside");

    public ContextDigestTests()
    {
        File.WriteAllText(_package.Combine("Dockerfile"), "FROM python:3.11-slim\nCOPY . /app\n");
        File.WriteAllText(_package.Combine("serve.py"), "print('hi')\n");
        File.WriteAllText(_outside.Combine("secret.txt"), "one");
    }

    public void Dispose()
    {
        _package.Dispose();
        _outside.Dispose();
    }

    [Fact]
    public void A_link_out_of_the_package_is_hashed_as_a_link_never_followed()
    {
        File.CreateSymbolicLink(_package.Combine("data"), _outside.Path);
        File.CreateSymbolicLink(_package.Combine("loop"), ".");
        File.CreateSymbolicLink(_package.Combine("broken"), "/nonexistent/file");
        var before = ImageIdentity.ContextDigest(_package.Path);
        File.WriteAllText(_outside.Combine("secret.txt"), "two");
        Assert.Equal(before, ImageIdentity.ContextDigest(_package.Path));

        // What the package holds does count.
        File.WriteAllText(_package.Combine("serve.py"), "print('bye')\n");
        Assert.NotEqual(before, ImageIdentity.ContextDigest(_package.Path));
    }

    [Fact]
    public void What_dockerignore_leaves_out_is_not_read()
    {
        File.WriteAllText(_package.Combine(".dockerignore"), "weights.bin\n");
        File.WriteAllText(_package.Combine("weights.bin"), "a");
        var before = ImageIdentity.ContextDigest(_package.Path);
        File.WriteAllText(_package.Combine("weights.bin"), "b");
        Assert.Equal(before, ImageIdentity.ContextDigest(_package.Path));
    }

    [Fact]
    public async Task A_fifo_in_the_package_is_not_opened_and_hashing_ends()
    {
        using (var mkfifo = Process.Start("mkfifo", [_package.Combine("pipe")])) mkfifo.WaitForExit();
        Assert.True(File.Exists(_package.Combine("pipe")));
        var hashing = Task.Run(() => ImageIdentity.ContextDigest(_package.Path));
        // A read of the FIFO would block until a writer came: none ever does.
        Assert.True(await Task.WhenAny(hashing, Task.Delay(TimeSpan.FromSeconds(30))) == hashing, "hashing the context blocked on the FIFO");
        Assert.StartsWith("sha256:", await hashing, StringComparison.Ordinal);
    }
}
