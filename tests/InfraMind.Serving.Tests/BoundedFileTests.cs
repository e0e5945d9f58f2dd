namespace InfraMind.Serving.Tests;

/// <summary>
/// <see cref="BoundedBody.ReadFile"/>, the one bounded read of a file a user names (a key, an admit list, a receipt's
/// input): by its bytes, never by the length the file reports; its text form, and the length a caller looks at first.
/// </summary>
public sealed class BoundedFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bounded-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(70_000, 70_000)]
    [InlineData(70_000, 100_000)]
    public void A_file_of_at_most_the_bound_is_read_whole(int size, long max)
    {
        var path = Path.Combine(_dir, "f");
        var bytes = Enumerable.Range(0, size).Select(i => (byte)(i * 7)).ToArray();
        File.WriteAllBytes(path, bytes);
        Assert.Equal(bytes, BoundedBody.ReadFile(path, max));
    }

    [Fact]
    public void One_byte_more_than_the_bound_is_none_and_so_is_a_device_without_end()
    {
        var path = Path.Combine(_dir, "f");
        File.WriteAllBytes(path, new byte[70_001]);
        Assert.Null(BoundedBody.ReadFile(path, 70_000));
        Assert.Null(BoundedBody.ReadFile(path, 0));
        // /dev/zero reports a length of 0 and never ends; a link to it reports the link's own.
        var link = Path.Combine(_dir, "zero");
        File.CreateSymbolicLink(link, "/dev/zero");
        Assert.Null(BoundedBody.ReadFile("/dev/zero", 1 << 20));
        Assert.Null(BoundedBody.ReadFile(link, 1 << 20));
    }

    [Fact]
    public void Text_drops_a_leading_byte_order_mark_and_keeps_the_bound()
    {
        var path = Path.Combine(_dir, "f");
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "é\uFEFF"u8]);
        Assert.Equal("é\uFEFF", BoundedBody.ReadText(path, 8));
        Assert.Null(BoundedBody.ReadText(path, 7));
        File.WriteAllText(path, "");
        Assert.Equal("", BoundedBody.ReadText(path, 0));
    }

    [Fact]
    public void The_length_looked_at_is_that_of_what_a_link_names()
    {
        var path = Path.Combine(_dir, "f");
        File.WriteAllBytes(path, new byte[1234]);
        var toFile = Path.Combine(_dir, "to-file");
        File.CreateSymbolicLink(toFile, path);
        var toLink = Path.Combine(_dir, "to-link");
        File.CreateSymbolicLink(toLink, toFile);
        var toZero = Path.Combine(_dir, "to-zero");
        File.CreateSymbolicLink(toZero, "/dev/zero");
        Assert.Equal(1234, BoundedBody.TargetLength(path));
        Assert.Equal(1234, BoundedBody.TargetLength(toLink));
        // The link's own length is that of its target's name (9 bytes); a device reports 0, and so is refused unread.
        Assert.Equal(9, new FileInfo(toZero).Length);
        Assert.Equal(0, BoundedBody.TargetLength(toZero));
        Assert.Throws<FileNotFoundException>(() => BoundedBody.TargetLength(Path.Combine(_dir, "missing")));
    }
}
