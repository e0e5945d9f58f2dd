using System.Security.Cryptography;

namespace InfraMind.Signing.Tests;

/// <summary>Public keys as strangers hand them over (publishers' statements, nodes' registrations).</summary>
public sealed class PublicKeyTests
{
    [Theory]
    [InlineData(KeyType.P256, "p256")]
    [InlineData(KeyType.Secp256k1, "secp256k1")]
    public void One_key_has_one_encoding_so_one_fingerprint(KeyType type, string name)
    {
        using var key = SigningKey.CreateEphemeral(type: type);
        var spki = key.PublicKey.SubjectPublicKeyInfo.ToArray();
        var parsed = PublicKey.FromSubjectPublicKeyInfo(spki);
        Assert.Equal(type, parsed.Type);
        Assert.Equal(name, parsed.Type.ToName());
        Assert.Equal(key.PublicKey.Fingerprint, parsed.Fingerprint);

        // The same point with a byte after it, or a byte short, would read as the same key under another fingerprint
        // (the DER reader stops after the first structure): refused, so a key id names one key only.
        foreach (var variant in new[] { [.. spki, 0x00], spki[..^1], spki.Select((b, i) => i == 3 ? (byte)(b ^ 0x01) : b).ToArray() })
        {
            var ex = Assert.Throws<SigningException>(() => PublicKey.FromSubjectPublicKeyInfo(variant));
            Assert.Equal(SigningErrorCodes.PublicKeyInvalid, ex.Code);
        }
    }

    [Fact]
    public void Other_curves_are_refused_by_name()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var ex = Assert.Throws<SigningException>(() => PublicKey.FromSubjectPublicKeyInfo(p384.ExportSubjectPublicKeyInfo()));
        Assert.Equal(SigningErrorCodes.PublicKeyInvalid, ex.Code);
        Assert.Contains("P-256 or secp256k1", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(KeyType.P256)]
    [InlineData(KeyType.Secp256k1)]
    public void One_key_verifies_on_many_threads_at_once_each_answer_right_with_its_key_objects_bounded(KeyType type)
    {
        // A gateway verifies one busy node's receipts on every core at once: each verification takes a native key
        // object of its own, and the key keeps no more than one per core afterwards.
        using var key = SigningKey.CreateEphemeral(type: type);
        var data = "a receipt's payload"u8.ToArray();
        var signature = key.Sign(data);
        var other = (byte[])data.Clone();
        other[0] ^= 0x01;
        var publicKey = PublicKey.FromSubjectPublicKeyInfo(key.PublicKey.SubjectPublicKeyInfo);
        const int Threads = 8;
        var wrong = 0;
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(_ => new Thread(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < 100; i++)
            {
                if (!publicKey.Verify(data, signature)) Interlocked.Increment(ref wrong);
                if (publicKey.Verify(other, signature)) Interlocked.Increment(ref wrong);
                if (publicKey.Verify(data, signature.AsSpan(1))) Interlocked.Increment(ref wrong);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Equal(0, wrong);
        Assert.InRange(publicKey.IdleKeyObjects, 1, PublicKey.MaxIdleKeyObjects);
        // Once the threads are done, verifications one at a time keep what they find: no growth.
        var kept = publicKey.IdleKeyObjects;
        for (var i = 0; i < 50; i++) Assert.True(publicKey.Verify(data, signature));
        Assert.Equal(kept, publicKey.IdleKeyObjects);
    }

    [Theory]
    [InlineData(KeyType.P256)]
    [InlineData(KeyType.Secp256k1)]
    public void One_private_key_signs_on_many_threads_at_once_and_every_signature_verifies(KeyType type)
    {
        // A node signs the receipt of every job it answers, on whatever thread answers it, with one SigningKey.
        using var key = SigningKey.CreateEphemeral(type: type);
        const int Threads = 8;
        var signatures = new byte[Threads][][];
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            signatures[t] = new byte[100][];
            start.SignalAndWait();
            for (var i = 0; i < 100; i++) signatures[t][i] = key.Sign(Payload(t, i));
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        for (var t = 0; t < Threads; t++)
        {
            for (var i = 0; i < 100; i++)
            {
                Assert.True(key.PublicKey.Verify(Payload(t, i), signatures[t][i]), $"thread {t}, signature {i}");
                Assert.False(key.PublicKey.Verify(Payload(t, i + 1), signatures[t][i]));
            }
        }

        static byte[] Payload(int thread, int i) => System.Text.Encoding.UTF8.GetBytes($"receipt {thread}/{i}");
    }

    [Fact]
    public void The_keys_kept_stay_bounded_however_many_distinct_keys_arrive()
    {
        // Twice the bound in distinct keys: without the bound the cache would hold them all. Other tests add keys in
        // parallel, so the check leaves them a margin far below the second CacheLimit a missing bound would show.
        for (var i = 0; i < 2 * PublicKey.CacheLimit; i++)
        {
            using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            _ = PublicKey.FromSubjectPublicKeyInfo(ecdsa.ExportSubjectPublicKeyInfo());
            Assert.True(PublicKey.CachedCount <= PublicKey.CacheLimit + 64, $"{PublicKey.CachedCount} keys kept after {i + 1} distinct ones");
        }
    }

    [Fact]
    public void A_key_parsed_again_is_the_one_kept()
    {
        // What the cache is for (every signed request names a key): the second parse of one key answers the first's
        // instance, not a new ECDsa. Tried three times: another test filling the cache to its bound clears it meanwhile.
        // Another key parsed in between must not push it out.
        using var key = SigningKey.CreateEphemeral();
        using var other = SigningKey.CreateEphemeral();
        var spki = key.PublicKey.SubjectPublicKeyInfo.ToArray();
        Assert.Contains(true, Enumerable.Range(0, 3).Select(attempt =>
        {
            var first = PublicKey.FromSubjectPublicKeyInfo(spki);
            _ = PublicKey.FromSubjectPublicKeyInfo(other.PublicKey.SubjectPublicKeyInfo);
            return ReferenceEquals(first, PublicKey.FromSubjectPublicKeyInfo(spki));
        }));
    }
}
