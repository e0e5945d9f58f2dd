using InfraMind.Testing;

namespace InfraMind.Signing.Tests;

/// <summary>
/// The one way the mesh keeps a secret on disk (a node's credential, a gateway's bindings and node token, a TLS key):
/// owner-only from the start, whole or not at all, and, for a file made once, the first of two writers wins.
/// </summary>
public sealed class AtomicFileTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-owner-only");

    public void Dispose() => _dir.Dispose();

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public void A_write_is_owner_only_in_an_owner_only_directory_and_replaces_what_was_there()
    {
        var path = _dir.Combine("made", "secret");
        AtomicFile.Write(path, "one"u8);
        AtomicFile.Write(path, "two"u8);
        Assert.Equal("two", File.ReadAllText(path));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        Assert.Equal(OwnerReadWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir.Combine("made")));
        Assert.Equal(["secret"], Directory.GetFiles(_dir.Combine("made")).Select(Path.GetFileName));
    }

    /// <summary>A directory that exists keeps the mode its owner gave it: the file alone is the secret.</summary>
    [Fact]
    public void A_directory_that_exists_keeps_its_mode()
    {
        var shared = _dir.Combine("shared");
        Directory.CreateDirectory(shared);
        const UnixFileMode open = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(shared, open);
        Assert.True(AtomicFile.CreateOnce(Path.Combine(shared, "token"), "t"u8));
        Assert.Equal(open, File.GetUnixFileMode(shared));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(Path.Combine(shared, "token")));
    }

    [Fact]
    public void A_file_made_once_keeps_its_first_content()
    {
        var path = _dir.Combine("token");
        Assert.True(AtomicFile.CreateOnce(path, "first"u8));
        Assert.False(AtomicFile.CreateOnce(path, "second"u8));
        Assert.Equal("first", File.ReadAllText(path));
        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        Assert.Equal(["token"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
    }

    /// <summary>
    /// Writers racing (a gateway and `mesh up` making the node token, two nodes their TLS key): exactly one makes the
    /// file, whole, and every other is told it was there; no temporary file is left behind. 200 rounds (about a second):
    /// File.Move(…, overwrite: false), which looks and then renames here, let two writers win in every run of them.
    /// </summary>
    [Fact]
    public async Task Of_writers_racing_to_make_a_file_exactly_one_wins()
    {
        for (var round = 0; round < 200; round++)
        {
            var path = _dir.Combine($"race-{round}");
            using var start = new ManualResetEventSlim();
            var writers = Enumerable.Range(0, 8).Select(i => Task.Run(() =>
            {
                start.Wait();
                return AtomicFile.CreateOnce(path, System.Text.Encoding.UTF8.GetBytes(new string((char)('a' + i), 4096)));
            })).ToList();
            start.Set();
            var made = await Task.WhenAll(writers);
            var winner = Assert.Single(made.Select((won, i) => (won, i)), w => w.won).i;
            Assert.Equal(new string((char)('a' + winner), 4096), File.ReadAllText(path));
        }

        Assert.Empty(Directory.GetFiles(_dir.Path, "*.tmp"));
    }

    /// <summary>
    /// The directory is flushed after every move (a name that is only in memory is lost in a crash, with the key or pin
    /// it names). That it reaches the disk is beyond a test; that it is done, and says what failed, is not.
    /// </summary>
    [Fact]
    public void A_directory_that_cannot_be_flushed_is_an_error_that_names_it()
    {
        AtomicFile.FlushDirectory(_dir.Path);
        var missing = _dir.Combine("missing");
        var error = Assert.Throws<IOException>(() => AtomicFile.FlushDirectory(missing));
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Contains("No such file or directory", error.Message, StringComparison.Ordinal);
    }
}
