using System.CommandLine;
using DeepTrain.Zoo;
using DeepTrain.Tensors;

namespace DeepTrain.Cli.Commands;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    public static Option<string> Model(string? defaultValue = null) => new("--model", "-m")
    {
        Description = "Model name (see 'deeptrain models')",
        Required = defaultValue is null,
        DefaultValueFactory = defaultValue is null ? null! : _ => defaultValue,
    };

    public static Option<int> BatchSize(int defaultValue) => new Option<int>("--batch-size", "-b")
    {
        Description = "Samples per batch",
        DefaultValueFactory = _ => defaultValue,
    }.AtLeast(1);

    public static Option<string> Device() => new("--device")
    {
        Description = "cpu, cuda or cuda:N",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<string?> Input() => new("--input")
    {
        Description = "Per-sample input shape CxHxW (e.g. 1x28x28); default: the model's own",
    };

    public static Option<int?> Classes() => new("--classes") { Description = "Output classes; default: the model's own (or the data set's)" };

    public static Option<string> Layout() => new("--layout")
    {
        Description = "Activation layout: nchw or nhwc",
        DefaultValueFactory = _ => "nchw",
    };

    /// <summary>Parses "CxHxW" (or "HxW" as 1 channel, or "F" features).</summary>
    /// <exception cref="FormatException">Not of that form.</exception>
    public static (int C, int Size) ParseInput(string text)
    {
        var parts = text.Split('x', 'X', '×');
        if (parts.Length == 3 && int.TryParse(parts[0], out int c) && int.TryParse(parts[1], out int h) && int.TryParse(parts[2], out int w) && c > 0 && h > 0 && h == w)
            return (c, h);
        throw new FormatException($"--input '{text}' is not valid: expected CxHxW with H = W, e.g. 3x32x32");
    }

    public static Layout ParseLayout(string text) => text.ToLowerInvariant() switch
    {
        "nchw" => Tensors.Layout.NCHW,
        "nhwc" => Tensors.Layout.NHWC,
        _ => throw new FormatException($"--layout '{text}' is not valid: expected nchw or nhwc"),
    };

    /// <summary>Builds a zoo model with optional input and class overrides.</summary>
    public static Modeling.ModelGraph BuildModel(string name, string? input, int? classes)
    {
        int? c = null, s = null;
        if (input is not null) (c, s) = ParseInput(input);
        return ModelZoo.Create(name, c, classes, s);
    }

    public static string Bytes(long b) => b switch
    {
        >= 1L << 30 => $"{b / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{b / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{b / 1024.0:F1} KiB",
        _ => $"{b} B",
    };
}
