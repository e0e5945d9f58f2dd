namespace InfraMind.Storage.Ipfs;

/// <summary>
/// Base58btc and RFC 4648 base32 (lower case, no padding), the two encodings CIDs use. Hand-written because they are
/// a few dozen lines and CIDs are short, so a package would add a dependency for no speed.
/// </summary>
internal static class Multibase
{
    private const string Base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    private const string Base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static string EncodeBase58(ReadOnlySpan<byte> data)
    {
        int zeros = 0;
        while (zeros < data.Length && data[zeros] == 0)
        {
            zeros++;
        }

        // log(256)/log(58) ≈ 1.366: upper bound of base58 digits.
        var digits = new byte[(data.Length - zeros) * 138 / 100 + 1];
        int length = 0;
        for (int i = zeros; i < data.Length; i++)
        {
            int carry = data[i];
            int j = 0;
            for (; j < length || carry != 0; j++)
            {
                carry += 256 * digits[j];
                digits[j] = (byte)(carry % 58);
                carry /= 58;
            }

            length = j;
        }

        var chars = new char[zeros + length];
        chars.AsSpan(0, zeros).Fill('1');
        for (int i = 0; i < length; i++)
        {
            chars[zeros + i] = Base58Alphabet[digits[length - 1 - i]];
        }

        return new string(chars);
    }

    public static byte[]? DecodeBase58(ReadOnlySpan<char> text)
    {
        int zeros = 0;
        while (zeros < text.Length && text[zeros] == '1')
        {
            zeros++;
        }

        var bytes = new byte[text.Length * 733 / 1000 + 1];
        int length = 0;
        for (int i = zeros; i < text.Length; i++)
        {
            int carry = Base58Alphabet.IndexOf(text[i], StringComparison.Ordinal);
            if (carry < 0)
            {
                return null;
            }

            int j = 0;
            for (; j < length || carry != 0; j++)
            {
                carry += 58 * bytes[j];
                bytes[j] = (byte)(carry & 0xff);
                carry >>= 8;
            }

            length = j;
        }

        var result = new byte[zeros + length];
        for (int i = 0; i < length; i++)
        {
            result[zeros + i] = bytes[length - 1 - i];
        }

        return result;
    }

    public static string EncodeBase32(ReadOnlySpan<byte> data)
    {
        var chars = new char[(data.Length * 8 + 4) / 5];
        int buffer = 0, bits = 0, n = 0;
        foreach (byte b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[n++] = Base32Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            chars[n++] = Base32Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars, 0, n);
    }

    public static byte[]? DecodeBase32(ReadOnlySpan<char> text)
    {
        var result = new byte[text.Length * 5 / 8];
        int buffer = 0, bits = 0, n = 0;
        foreach (char c in text)
        {
            int v = Base32Alphabet.IndexOf(char.ToLowerInvariant(c), StringComparison.Ordinal);
            if (v < 0)
            {
                return null;
            }

            buffer = (buffer << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                result[n++] = (byte)(buffer >> (bits - 8));
                bits -= 8;
            }
        }

        return result;
    }
}
