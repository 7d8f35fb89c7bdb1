"""What a run prints that belongs to no one stage: the block of settings nanoBragg prints before
rendering (as lines, printed by the run), and the usage text of its usage exits."""
from nbgpu.base.cnumbers import RTD
from nbgpu.base.vectors import cross


def summary_lines(setup) -> list[str]:
    """The block of settings nanoBragg prints before rendering (§17, §26)."""
    lines = []
    log = lines.append
    f, d, fr, b, sm, c, sf = (setup.flags, setup.detector, setup.detector.frame, setup.beam, setup.sampling,
                              setup.crystal, setup.structure_factors)
    grid = fr.grid
    log("  %d initialized hkls (all others =%g)\n" % (sf.hkls if sf else 0, f.default_F))
    shape = {"round": "ellipsoidal", "square": "parallelpiped", "gauss": "gaussian", "tophat": "tophat-spot"}
    log("  %s xtal: %.0fx%.0fx%.0f cells\n" % (shape[c.shape], *c.N))
    log("  wave=%g meters +/- %g%% in %d steps\n" % (b.lambda0, sm.dispersion * 100, sm.dispsteps))
    log("  polarization effect disabled\n" if b.nopolar else "  Kahn polarization factor: %f\n" % b.kahn_factor)
    if d.curved:
        log("  curved detector: all pixels same distance from origin\n")
    if d.point_pixel:
        log("  pixel obliquity effect disabled\n")
    log("  incident fluence: %g photons/m^2\n" % b.fluence)
    log("  distance=%g detsize=%gx%g  pixel=%g meters (%dx%d pixels)\n"
        % (d.distance, grid.detsize_f, grid.detsize_s, grid.pixel_size, grid.fpixels, grid.spixels))
    log("  sensor is %g m thick in %d layers with mu= %g\n" % (sm.thick, sm.thicksteps, sm.mu))
    log("  Xbeam=%g Ybeam=%g\n" % (fr.Xbeam, fr.Ybeam))
    log("  Fbeam=%g Sbeam=%g\n" % (d.Fbeam, d.Sbeam))
    log("  Xclose=%g Yclose=%g\n" % (fr.Xclose, fr.Yclose))
    log("  Fclose=%g Sclose=%g\n" % (d.Fclose, d.Sclose))
    log("  DIRECTION_OF_DETECTOR_X-AXIS= %g %g %g\n" % d.fdet)
    log("  DIRECTION_OF_DETECTOR_Y-AXIS= %g %g %g\n" % d.sdet)
    log("  DIRECTION_OF_DETECTOR_Z-AXIS= %g %g %g\n" % d.odet)
    log("  INCIDENT_BEAM_DIRECTION= %g %g %g\n" % b.direction)
    log("  spindle ROTATION_AXIS= %g %g %g\n" % c.spindle)
    log("  POLARIZATION_PLANE_NORMAL= %g %g %g\n" % tuple(cross(b.direction, b.polar)))
    log("  dials origin= %g %g %g\n" % d.dials_origin)
    log("  roi: %d < x < %d && %d < y < %d\n" % fr.roi)
    log("  hdivrange=%g hdivstep=%g  radians\n" % (sm.hdivrange, sm.hdivstep))
    log("  vdivrange=%g vdivstep=%g  radians\n" % (sm.vdivrange, sm.vdivstep))
    log("  %d divergence steps\n" % b.divsteps)
    log("  %d sources\n" % b.sources)
    log("  %d mosaic domains over mosaic spread of %g degrees\n" % (sm.mosaic_domains, sm.mosaic_spread * RTD))
    log("  %d phi steps from %g to %g degrees\n" % (sm.phisteps, sm.phi0 * RTD, (sm.phi0 + sm.osc) * RTD))
    log("  %dx%d pixel oversample steps%s%s%s\n" % (
        setup.oversample, setup.oversample, " +thick" if f.oversample_thick else "",
        " +polar" if f.oversample_polar else "", " +omega" if f.oversample_omega else ""))
    if setup.mask_pixels is not None:
        log("  skipping zero-flagged pixels in %s\n" % f.maskfilename)
    if f.calculate_noise:
        log("\n  noise image paramters:\n")
        log("  seed: %d\n" % f.seed)
        log("  water droplet size: %g m\n" % f.water_size)
    return lines


def usage_text() -> str:
    return """usage: nanoBragg -mat auto.mat -hkl Fs.hkl [options]   (nbgpu: the same flags as nanoBragg)
  crystal:   -mat FILE | -cell a b c alpha beta gamma; -misset x y z | -misset random; -N n | -Na -Nb -Nc;
             -xtalsize mm; -mosaic deg -mosaic_domains n; -round_xtal -gauss_xtal -tophat_spots -fudge f
  structure: -hkl FILE (writes Fdump.bin) | Fdump.bin of an earlier run | -default_F F; -interpolate
  beam:      -lambda A | -energy eV; -dispersion % -dispsteps n; -divergence mrad -divsteps n;
             -sourcefile FILE; -fluence | -flux -exposure -beamsize; -polar K -polar_vector; -nopolar
  detector:  -distance mm; -detpixels n; -pixel mm; -Xbeam -Ybeam mm; -mosflm -xds -adxv -denzo -dials;
             -twotheta deg; -detector_rotx/y/z deg; -curved_det; -detector_abs um -detector_thick um
  sampling:  -phi -osc -phisteps; -oversample n; -roi xmin xmax ymin ymax; -dmin A; -img FILE -mask FILE
  output:    -floatfile -intfile -pgmfile -noisefile NAME; -nonoise -nopgm; -scale -pgmscale -adc; -seed n
  nbgpu:     -trace_pixel slow fast: one TRACE line per quantity of that pixel; see docs/usage.md
"""
