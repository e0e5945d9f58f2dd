using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

namespace InfraMind.Signing.Tests;

/// <summary>
/// A statement holds its manifest as text (<see cref="PublishStatement.Manifest"/>): a registry source keeps every
/// version's statement, so what it holds per version is the text, never the tree a caller gave or read, and no read
/// can change what was signed.
/// </summary>
public sealed class StatementManifestTests
{
    private static readonly string Image = "sha256:" + new string('a', 64);

    [Fact]
    public void Each_read_is_a_tree_of_the_readers_own_and_no_change_to_one_reaches_the_statement()
    {
        using var key = SigningKey.CreateEphemeral();
        var given = Manifest();
        var statement = PublishStatement.Create("m", "1.0.0", Image, "name: m\n"u8, [new PublishedReference("local://" + Image, "local")], key.PublicKey, TimeProvider.System, given);

        given["name"] = "changed by the caller";
        var first = statement.Manifest!;
        first["name"] = "changed by a reader";
        ((JsonObject)first["input_schema"]!)["type"] = "array";

        var second = statement.Manifest!;
        Assert.NotSame(first, second);
        Assert.Equal("m", (string?)second["name"]);
        Assert.Equal("object", (string?)second["input_schema"]!["type"]);

        // What is signed is the text as given, and it comes back out of the envelope the same.
        var verified = Dsse.VerifyPublish(Dsse.SignPublish(statement, key));
        Assert.True(verified.IsValid, verified.Reason);
        Assert.Equal(CanonicalJson.SerializeToString(Manifest()), CanonicalJson.SerializeToString(verified.Statement!.Manifest));
        Assert.Equal(CanonicalJson.SerializeToString(Manifest()), CanonicalJson.SerializeToString(statement.ToStatement().Predicate["manifest"]));
    }

    [Fact]
    public void A_statement_does_not_keep_the_tree_it_was_given()
    {
        using var key = SigningKey.CreateEphemeral();
        var (statement, given) = CreateAndForget(key);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(given.TryGetTarget(out _), "the statement still holds the manifest tree it was made from");
        Assert.Equal("m", (string?)statement.Manifest!["name"]);
    }

    [Fact]
    public void A_statement_without_a_manifest_reads_none()
    {
        using var key = SigningKey.CreateEphemeral();
        var statement = PublishStatement.Create("m", "1.0.0", Image, "name: m\n"u8, [], key.PublicKey, TimeProvider.System);
        Assert.Null(statement.Manifest);
        Assert.Null(statement.ToStatement().Predicate["manifest"]);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (PublishStatement Statement, WeakReference<JsonObject> Given) CreateAndForget(SigningKey key)
    {
        var given = Manifest();
        var statement = PublishStatement.Create("m", "1.0.0", Image, "name: m\n"u8, [], key.PublicKey, TimeProvider.System, given);
        return (statement, new WeakReference<JsonObject>(given));
    }

    private static JsonObject Manifest() => new()
    {
        ["name"] = "m",
        ["version"] = "1.0.0",
        ["input_schema"] = new JsonObject { ["type"] = "object", ["properties"] = new JsonObject { ["text"] = new JsonObject { ["type"] = "string", ["description"] = "déjà \"vu\" <b>" } } },
    };
}
