using InfraMind.Testing;
using System.Diagnostics;
using System.Formats.Tar;
using System.Text;

namespace InfraMind.Oci.Tests;

/// <summary>
/// Against the real engine: <c>docker save</c> → layout tar → <c>docker load</c> on the engine here (20.10, API 1.41,
/// which reads only manifest.json) and back. Without an engine (or, for the python test, its base image) they fail
/// where peers are required (CI=true, scripts/test.sh) and are skipped elsewhere: never a pass that ran nothing.
/// </summary>
public sealed class DockerEngineTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-docker");
    private readonly string _tag = "inframind-oci-test/tiny:" + Guid.NewGuid().ToString("N")[..12];
    private readonly List<string> _images = [];

    public void Dispose()
    {
        foreach (string image in _images)
        {
            DockerCli.Run(check: false, "rmi", "-f", image);
        }

        _dir.Dispose();
    }

    [SkippableFact]
    public async Task Docker_save_converts_deterministically_and_the_layout_loads_back_into_the_engine()
    {
        DockerCli.RequireEngine();
        string image = BuildTwoLayerImage();
        string saved = _dir.Combine("saved.tar");
        DockerCli.Run(check: true, "save", "-o", saved, image);

        var first = await ConvertFileAsync(saved, _dir.Combine("layout1.tar"));
        var second = await ConvertFileAsync(saved, _dir.Combine("layout2.tar"));
        Assert.Equal(await File.ReadAllBytesAsync(first.Path), await File.ReadAllBytesAsync(second.Path));
        var converted = Assert.Single(first.Images);
        Assert.Equal(2, converted.Layers.Count);
        Assert.All(converted.Layers, l => Assert.Equal(MediaTypes.OciLayerTarGzip, l.MediaType));
        Assert.Equal([image], converted.RepoTags);

        // The engine's image id is the config digest: the same config must come out of our layout.
        string id = DockerCli.Run(check: true, "image", "inspect", "--format", "{{.Id}}", image).Trim();
        Assert.Equal(id, converted.Config.Digest.Value);

        // docker load on 20.10 of our layout (through its legacy manifest.json), under a fresh name.
        DockerCli.Run(check: true, "rmi", image);
        string loadOutput = DockerCli.Run(check: true, "load", "-i", first.Path);
        Assert.Contains(image, loadOutput);
        Assert.Equal(id, DockerCli.Run(check: true, "image", "inspect", "--format", "{{.Id}}", image).Trim());

        // Saving what was loaded gives the same container hash again.
        string resaved = _dir.Combine("resaved.tar");
        DockerCli.Run(check: true, "save", "-o", resaved, image);
        var third = await ConvertFileAsync(resaved, _dir.Combine("layout3.tar"));
        Assert.Equal(converted.ManifestDigest, Assert.Single(third.Images).ManifestDigest);
        Assert.Equal(await File.ReadAllBytesAsync(first.Path), await File.ReadAllBytesAsync(third.Path));

        // And the layout tar reads back with every blob verified.
        await using var tar = File.OpenRead(first.Path);
        var layout = await OciImageLayout.ExtractAsync(tar, _dir.Combine("extracted"), CancellationToken.None);
        Assert.Equal(converted.ManifestDigest, Assert.Single(layout.Images).ManifestDigest);
    }

    [SkippableFact]
    public async Task A_real_python_base_image_converts_deterministically()
    {
        const string python = TestEngine.BaseImage;
        DockerCli.RequireImage(python, "run scripts/setup-engine.sh (it builds the local stand-in)");

        string saved = _dir.Combine("python.tar");
        DockerCli.Run(check: true, "save", "-o", saved, python);
        var a = await ConvertFileAsync(saved, _dir.Combine("p1.tar"));
        var b = await ConvertFileAsync(saved, _dir.Combine("p2.tar"));
        Assert.Equal(a.Images[0].ManifestDigest, b.Images[0].ManifestDigest);
        Assert.True(FilesEqual(a.Path, b.Path), "two exports of python:3.10-slim differ");
        string id = DockerCli.Run(check: true, "image", "inspect", "--format", "{{.Id}}", python).Trim();
        Assert.Equal(id, a.Images[0].Config.Digest.Value);
    }

    private static bool FilesEqual(string x, string y)
    {
        using var a = File.OpenRead(x);
        using var b = File.OpenRead(y);
        if (a.Length != b.Length)
        {
            return false;
        }

        byte[] ba = new byte[1 << 20], bb = new byte[1 << 20];
        int n;
        while ((n = a.Read(ba)) > 0)
        {
            b.ReadExactly(bb, 0, n);
            if (!ba.AsSpan(0, n).SequenceEqual(bb.AsSpan(0, n)))
            {
                return false;
            }
        }

        return true;
    }

    private static async Task<(string Path, IReadOnlyList<OciImage> Images)> ConvertFileAsync(string dockerSave, string output)
    {
        await using var input = File.OpenRead(dockerSave);
        await using var target = File.Create(output);
        var images = await OciImageLayout.ConvertDockerArchiveAsync(input, target, CancellationToken.None);
        return (output, images);
    }

    private string BuildTwoLayerImage()
    {
        // docker import of a tiny root file system, then a legacy-builder COPY on top: two layers, no registry.
        string rootfs = _dir.Combine("rootfs.tar");
        using (var tar = new TarWriter(File.Create(rootfs), TarEntryFormat.Ustar))
        {
            tar.WriteEntry(new UstarTarEntry(TarEntryType.Directory, "etc/"));
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "etc/os-release")
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes("NAME=inframind-test\n")),
            });
        }

        string baseTag = _tag + "-base";
        _images.Add(baseTag);
        _images.Add(_tag);
        DockerCli.Run(check: true, "import", "--change", "LABEL inframind.test=oci", rootfs, baseTag);
        string context = _dir.Combine("ctx");
        Directory.CreateDirectory(context);
        File.WriteAllText(Path.Combine(context, "model.yaml"), "name: tiny\nversion: 1.0.0\n");
        File.WriteAllText(Path.Combine(context, "Dockerfile"), $"FROM {baseTag}\nCOPY model.yaml /model.yaml\nLABEL inframind.test=oci\n");
        DockerCli.Run(check: true, "build", "-q", "-t", _tag, context);
        return _tag;
    }
}
