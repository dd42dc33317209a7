using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;

namespace DeepTrain.Cli.Commands;

/// <summary>
/// Range checks for option values, and the one place parse errors become a usage error. A validator must not
/// call <c>GetValueOrDefault</c> on a token that does not convert (<c>-b abc</c>, <c>6.5</c>,
/// <c>99999999999</c>): System.CommandLine throws there, during parsing, and the process aborted with a stack
/// trace. <see cref="Require{T}"/> converts the token itself first.
/// </summary>
internal static partial class OptionChecks
{
    /// <summary>Exit code for a command line that does not parse or whose values are out of range.</summary>
    public const int UsageExitCode = 2;

    /// <summary>
    /// Adds a validator: the value must convert to <typeparamref name="T"/> and satisfy <paramref name="valid"/>;
    /// otherwise one error, <c>--name expects EXPECTED, got 'TOKEN'</c>.
    /// </summary>
    /// <param name="option">The option to check.</param>
    /// <param name="valid">The range test on the converted value.</param>
    /// <param name="expected">What the option takes, e.g. "a whole number ≥ 1".</param>
    public static Option<T> Require<T>(this Option<T> option, Func<T, bool> valid, string expected)
    {
        option.Validators.Add(r =>
        {
            string? token = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
            if (token is not null && !Converts<T>(token))
            {
                r.AddError(Expects(option.Name, expected, token));
                return;
            }
            T value = r.GetValueOrDefault<T>();
            if (!valid(value))
                r.AddError(Expects(option.Name, expected, token ?? Convert.ToString(value, CultureInfo.InvariantCulture) ?? ""));
        });
        return option;
    }

    /// <summary>An integer option that must be at least <paramref name="min"/>.</summary>
    public static Option<int> AtLeast(this Option<int> option, int min) => option.Require(v => v >= min, $"a whole number ≥ {min}");

    private static string Expects(string name, string expected, string token) => $"{name} expects {expected}, got '{token}'";

    /// <summary>Whether <paramref name="token"/> converts as System.CommandLine would convert it (invariant culture).</summary>
    private static bool Converts<T>(string token)
    {
        var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        var ic = CultureInfo.InvariantCulture;
        if (type == typeof(int)) return int.TryParse(token, NumberStyles.Integer, ic, out _);
        if (type == typeof(long)) return long.TryParse(token, NumberStyles.Integer, ic, out _);
        if (type == typeof(float)) return float.TryParse(token, NumberStyles.Float, ic, out float f) && float.IsFinite(f);
        if (type == typeof(double)) return double.TryParse(token, NumberStyles.Float, ic, out double d) && double.IsFinite(d);
        return true;   // strings and the rest convert, or System.CommandLine reports them itself
    }

    /// <summary>
    /// Prints a parse result's errors as <c>error: …</c> lines (one per option: a check's own message wins over
    /// System.CommandLine's conversion message for the same option) and a pointer to the help, on stderr.
    /// </summary>
    /// <returns><see cref="UsageExitCode"/>.</returns>
    public static int ReportUsageErrors(ParseResult result)
    {
        var lines = new List<string>();
        foreach (var group in result.Errors.GroupBy(e => e.SymbolResult))
        {
            var errors = group.ToList();
            var own = errors.Where(e => !CannotParse().IsMatch(e.Message)).ToList();
            foreach (var e in own.Count > 0 && group.Key is OptionResult ? own : errors)
                lines.Add(Friendly(e.Message));
        }
        foreach (var line in lines.Distinct()) Console.Error.WriteLine($"error: {line}");
        Console.Error.WriteLine($"Run '{CommandPath(result.CommandResult)} --help' for the options.");
        return UsageExitCode;
    }

    /// <summary>System.CommandLine's "Cannot parse argument 'x' for option '--o' as expected type 'System.Int32'." in words.</summary>
    private static string Friendly(string message)
    {
        var m = CannotParse().Match(message);
        if (!m.Success) return message;
        string expected = m.Groups[3].Value switch
        {
            "System.Int32" => $"a whole number from {int.MinValue} to {int.MaxValue}",
            "System.Int64" => "a whole number",
            "System.Single" or "System.Double" => "a number",
            "System.Boolean" => "true or false",
            var t => $"a value of type {t}",
        };
        return Expects(m.Groups[2].Value, expected, m.Groups[1].Value);
    }

    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (SymbolResult? s = command; s is not null; s = s.Parent)
            if (s is CommandResult c) names.Insert(0, c.Command.Name);
        return string.Join(' ', names);
    }

    [GeneratedRegex(@"^Cannot parse argument '(.*)' for option '(.*)' as expected type '(.*)'\.$", RegexOptions.Singleline)]
    private static partial Regex CannotParse();
}
