namespace DeepTrain.Data;

/// <summary>
/// One image's rotation and translation, as torchvision's
/// <c>RandomAffine(degrees=D, translate=(T, T), interpolation=InterpolationMode.BILINEAR, fill=0)</c> on a
/// float (C, H, W) tensor (torchvision.transforms.functional_tensor.affine).
/// <para>
/// Parameters (RandomAffine.get_params): angle ~ U(−D, D) degrees; tx = round(U(−T·W, T·W)),
/// ty = round(U(−T·H, T·H)) whole pixels (Python's round: half to even).
/// </para>
/// <para>
/// Sampling: with the centre c = ((W − 1)/2, (H − 1)/2) and θ the angle, output pixel (x, y) reads the
/// source at the inverse map (torchvision's <c>_get_inverse_affine_matrix</c> about the image centre)
/// <code>
///   u = x − cₓ − tx,  v = y − c_y − ty
///   xs = cos θ·u + sin θ·v + cₓ,   ys = −sin θ·u + cos θ·v + c_y
/// </code>
/// bilinearly, as <c>grid_sample(align_corners=False, padding_mode="zeros")</c>: s = Σ wₖ·src(pₖ) over the
/// four neighbours inside the image. Because torchvision fills through a sampled mask channel
/// (<c>_apply_grid_transform</c>: img·mask + (1 − mask)·fill), the output is s·m with m = Σ wₖ over the
/// same in-image neighbours and fill 0: 0 outside the image, s in the interior, s·m at the border.
/// A whole-pixel translation without rotation therefore shifts pixels exactly.
/// </para>
/// </summary>
/// <param name="Angle">Rotation θ in degrees (clockwise on screen, as torchvision's affine).</param>
/// <param name="Tx">Shift to the right, in pixels.</param>
/// <param name="Ty">Shift down, in pixels.</param>
internal readonly record struct RandomAffine(double Angle, int Tx, int Ty)
{
    /// <summary>Draws the angle, then tx, then ty, as RandomAffine.get_params.</summary>
    public static RandomAffine Draw(AugmentationOptions options, int height, int width, ref SplitMix64 rng)
    {
        double angle = options.Degrees > 0 ? rng.NextUniform(-options.Degrees, options.Degrees) : 0.0;
        int tx = 0, ty = 0;
        if (options.Translate > 0)
        {
            double mx = options.Translate * width, my = options.Translate * height;
            tx = (int)Math.Round(rng.NextUniform(-mx, mx), MidpointRounding.ToEven);
            ty = (int)Math.Round(rng.NextUniform(-my, my), MidpointRounding.ToEven);
        }
        return new RandomAffine(angle, tx, ty);
    }

    /// <summary>Writes the transformed image; <paramref name="src"/> and <paramref name="dst"/> must not overlap.</summary>
    /// <param name="src">(C, H, W) floats.</param>
    /// <param name="dst">(C, H, W) floats.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    public void Apply(ReadOnlySpan<float> src, Span<float> dst, int channels, int height, int width)
    {
        int plane = height * width;
        double rad = Angle * (Math.PI / 180.0), cos = Math.Cos(rad), sin = Math.Sin(rad);
        double cx = (width - 1) * 0.5, cy = (height - 1) * 0.5;
        for (int y = 0; y < height; y++)
        {
            double v = y - cy - Ty;
            for (int x = 0; x < width; x++)
            {
                double u = x - cx - Tx;
                double xs = cos * u + sin * v + cx, ys = -sin * u + cos * v + cy;
                double fx0 = Math.Floor(xs), fy0 = Math.Floor(ys);
                int x0 = (int)fx0, y0 = (int)fy0;
                float ax = (float)(xs - fx0), ay = (float)(ys - fy0);
                // Corner weights; a corner outside the image contributes neither value nor mask.
                bool in00 = (uint)x0 < (uint)width && (uint)y0 < (uint)height;
                bool in01 = (uint)(x0 + 1) < (uint)width && (uint)y0 < (uint)height;
                bool in10 = (uint)x0 < (uint)width && (uint)(y0 + 1) < (uint)height;
                bool in11 = (uint)(x0 + 1) < (uint)width && (uint)(y0 + 1) < (uint)height;
                float w00 = in00 ? (1 - ax) * (1 - ay) : 0f, w01 = in01 ? ax * (1 - ay) : 0f;
                float w10 = in10 ? (1 - ax) * ay : 0f, w11 = in11 ? ax * ay : 0f;
                float mask = w00 + w01 + w10 + w11;
                int o = y * width + x, i00 = y0 * width + x0;
                for (int c = 0; c < channels; c++)
                {
                    if (mask == 0f) { dst[c * plane + o] = 0f; continue; }
                    var s = src.Slice(c * plane, plane);
                    float acc = 0f;
                    if (in00) acc += w00 * s[i00];
                    if (in01) acc += w01 * s[i00 + 1];
                    if (in10) acc += w10 * s[i00 + width];
                    if (in11) acc += w11 * s[i00 + width + 1];
                    dst[c * plane + o] = acc * mask;
                }
            }
        }
    }
}
