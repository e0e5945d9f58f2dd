using System.Reflection;

namespace InfraMind;

/// <summary>
/// Finds declared codes: every <c>public static readonly ErrorCode</c> field of a codes class. Used where a code
/// arrives as text (a problem document from a registry, a report read back) and must become the declared code, with
/// its kind and hint; and by the tests that prove each documented code is declared once.
/// </summary>
public static class ErrorCatalog
{
    /// <summary>The codes declared as public static fields of <paramref name="codesClass"/>, in declaration order.</summary>
    public static IReadOnlyList<ErrorCode> DeclaredIn(Type codesClass)
    {
        ArgumentNullException.ThrowIfNull(codesClass);
        return codesClass.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(ErrorCode) && f.IsInitOnly)
            .Select(f => (ErrorCode)f.GetValue(null)!)
            .ToList();
    }

    /// <summary>
    /// A lookup of the codes declared in <paramref name="codesClasses"/> by value. A value declared twice is a defect
    /// (two meanings for one code) and throws.
    /// </summary>
    public static IReadOnlyDictionary<string, ErrorCode> Index(params Type[] codesClasses)
    {
        ArgumentNullException.ThrowIfNull(codesClasses);
        var index = new Dictionary<string, ErrorCode>(StringComparer.Ordinal);
        foreach (var code in codesClasses.SelectMany(DeclaredIn))
        {
            if (!index.TryAdd(code.Value, code))
                throw new InvalidOperationException($"{code.Value} is declared twice ({string.Join(", ", codesClasses.Select(c => c.Name))})");
        }

        return index;
    }
}
