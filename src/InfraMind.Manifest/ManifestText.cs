using System.Security.Cryptography;
using System.Text;
using YamlDotNet.Core;

namespace InfraMind.Manifest;

/// <summary>
/// From bytes to a YAML tree: the size limit, the digest, UTF-8 and NUL checks, tabs in indentation, YAML syntax,
/// duplicate keys and extra documents, each reported with its line and column.
/// </summary>
internal static class ManifestText
{
    /// <summary>Reads the manifest (from <paramref name="content"/>, else the file) and decodes it; the digest is of the bytes.</summary>
    public static (string? Text, string? Digest) Read(string manifestPath, byte[]? content, ManifestFindings findings)
    {
        var file = findings.File;
        byte[] bytes;
        try
        {
            var length = content?.LongLength ?? new FileInfo(manifestPath).Length;
            if (length > ManifestReader.MaxManifestBytes)
            {
                findings.Error(ManifestCodes.FileTooLarge, "", null,
                    $"{file} is {length:N0} bytes; the limit is {ManifestReader.MaxManifestBytes:N0}",
                    "a manifest describes the model; keep weights and data in the image, large schemas in schema files");
                return (null, null);
            }

            // A length of 0 is also what a FIFO or a device reports: never opened, so reading one cannot block or run on.
            bytes = content ?? (length == 0 ? [] : File.ReadAllBytes(manifestPath));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            findings.Error(ManifestCodes.PathNotFound, "", null, $"cannot read {file}: {e.Message}", "check the file's permissions");
            return (null, null);
        }

        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (bytes.Length == 0 || bytes.All(b => b is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
        {
            findings.Error(ManifestCodes.EmptyFile, "", null, $"{file} is empty", "run `infra init NAME` to start from a complete package");
            return (null, digest);
        }

        var nul = Array.IndexOf(bytes, (byte)0);
        string text;
        try
        {
            if (nul >= 0) throw new DecoderFallbackException("NUL byte");
            text = new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            var (line, col) = nul >= 0 ? Position(bytes, nul) : (0, 0);
            findings.Error(ManifestCodes.NotText, "", null, $"{file} is not UTF-8 text" + (nul >= 0 ? " (it contains NUL bytes)" : ""),
                "model.yaml must be a UTF-8 YAML text file", line, col);
            return (null, digest);
        }

        return (text.TrimStart('\uFEFF'), digest);
    }

    /// <summary>Parses the text into a tree; null (with findings) when it has tabs, is not YAML, or has no fields.</summary>
    public static YNode? Parse(string text, ManifestFindings findings)
    {
        var lines = text.Split('\n');
        var tabs = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var indent = lines[i].Length - lines[i].TrimStart(' ', '\t').Length;
            var tab = lines[i].IndexOf('\t', 0, indent);
            if (tab < 0) continue;
            tabs = true;
            findings.Error(ManifestCodes.TabIndentation, "", null, "a tab is used for indentation; YAML allows only spaces",
                "replace the tab with spaces (set your editor to indent YAML with 2 spaces)", i + 1, tab + 1);
        }

        if (tabs) return null;
        YamlTreeReader.Result result;
        try
        {
            result = YamlTreeReader.Read(text);
        }
        catch (Exception e) when (e is not YamlException && e is InvalidOperationException or ArgumentException or IndexOutOfRangeException)
        {
            // YamlDotNet's scanner throws these (not YamlException) on a few malformed inputs, e.g. an unclosed flow sequence.
            findings.Error(ManifestCodes.YamlSyntax, "", null, "YAML syntax error: the document ends inside an unclosed construct or is malformed",
                "check that every [ { and quote is closed, and that indentation is consistent");
            return null;
        }
        catch (YamlException e)
        {
            var message = (e.InnerException?.Message ?? e.Message).Trim();
            var at = message.IndexOf("): ", StringComparison.Ordinal);
            if (message.StartsWith('(') && at > 0) message = message[(at + 3)..];
            findings.Error(ManifestCodes.YamlSyntax, "", null, $"YAML syntax error: {message}",
                "check indentation, colons after keys, and that quotes and brackets are closed",
                (int)e.Start.Line, (int)e.Start.Column);
            return null;
        }

        foreach (var (line, col, key, first) in result.Duplicates)
        {
            findings.Error(ManifestCodes.DuplicateKey, key, null, $"'{key}' appears twice (first on line {first})",
                "keep one of them; YAML mappings cannot repeat a key", line, col);
        }

        if (result.MultipleDocuments)
        {
            findings.Error(ManifestCodes.MultipleDocuments, "", null, $"{findings.File} holds more than one YAML document ('---')",
                "keep one manifest per package");
        }

        if (result.Root is null || result.Root is YScalar { IsNull: true })
        {
            findings.Error(ManifestCodes.EmptyFile, "", result.Root, $"{findings.File} has no fields", "run `infra init NAME` to start from a complete package");
            return null;
        }

        return result.Root;
    }

    /// <summary>
    /// The line and column of a byte, counted as every other finding counts them: in characters (UTF-16 units, as the
    /// YAML reader and editors count), not bytes, so a NUL after "é" is one column further, not two.
    /// </summary>
    private static (int Line, int Column) Position(byte[] bytes, int offset)
    {
        int line = 1, col = 1;
        for (var i = 0; i < offset; i++)
        {
            if (bytes[i] == '\n')
            {
                line++;
                col = 1;
            }
            else if (bytes[i] >= 0xF0) col += 2; // the lead byte of a 4-byte sequence: a surrogate pair
            else if ((bytes[i] & 0xC0) != 0x80) col++; // continuation bytes add nothing
        }

        return (line, col);
    }
}
