namespace InfraMind.Serving.Tests;

/// <summary>
/// <see cref="BoundedBody.ReadFile"/>, the one bounded read of a file a user names (a key, an admit list, a receipt's
/// input): by its bytes, never by the length the file reports.
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
}
