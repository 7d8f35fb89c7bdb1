/* nb_problem.h -- everything an engine needs to render, as plain fields and flat arrays.

   Built once by the Python front end (nbgpu/engine/problem.py) and handed to the C engine or, with
   device pointers, to the CUDA kernels.  This file is also given verbatim to cffi's cdef, so it
   holds only plain declarations: no #include, no #if, no macros.  SI units (m, rad) except
   where a name says otherwise. */

/* One panel of a multi-panel detector: where it is (the fields of nb_problem it replaces). */
typedef struct nb_panel {
    double pix0[3], fdet[3], sdet[3], odet[3];
    double distance, close_distance;
} nb_panel;

typedef struct nb_problem {
    /* detector grid and the part of it that is rendered (ROI limits inclusive) */
    int fpixels, spixels;
    int roi_xmin, roi_xmax, roi_ymin, roi_ymax;
    const unsigned char *mask;        /* NULL, or fpixels*spixels flags: 0 = skip the pixel */
    int oversample;
    double pixel_size, subpixel_size;
    double pix0[3], fdet[3], sdet[3], odet[3], beam[3];
    double distance, close_distance;
    int curved_detector, point_pixel;
    /* a multi-panel detector (npanels > 0): the image stacks the panels, panel i in rows
       [i * panel_rows, (i + 1) * panel_rows), each rendered as a one-panel problem placed by
       panels[i] (nb_panel_view); the geometry fields above are then panel 0's */
    int npanels, panel_rows;
    const nb_panel *panels;

    /* sensor layers */
    int thicksteps;
    double thickstep, detector_thick, detector_mu;

    /* sources: unit vectors from the sample toward each source, and wavelengths */
    int nsources;
    const double *source_dir;         /* 3 per source */
    const double *source_lambda;      /* 1 per source, m */
    double dmin;

    /* polarization and the per-sub-pixel correction switches */
    double kahn_factor;
    double polar_vector[3];
    int nopolar, oversample_thick, oversample_polar, oversample_omega;

    /* crystal: lattice vectors a, b, c (m) hoisted per phi step and mosaic domain,
       9 doubles per (phi, domain), domain fastest */
    int phisteps, mosaic_domains;
    const double *lattice;            /* steady state */
    const double *lattice_first;      /* the run's first phi sweep (phi = 0 carry-over) */
    int xtal_shape;                   /* 0 square, 1 round, 2 gauss, 3 tophat */
    double Na, Nb, Nc, fudge;
    double a_star[3], b_star[3], c_star[3];   /* unrotated reciprocal vectors, 1/Angstrom */

    /* structure factors: (h_range+1)*(k_range+1)*(l_range+1) doubles, l fastest */
    const double *Fhkl;
    int hkls;
    int h_min, h_max, k_min, k_max, l_min, l_max;
    int h_range, k_range, l_range;
    double default_F;

    /* scale */
    double I_bg, water_size, r_e_sqr, fluence, steps;

    /* derived from the fields above by nb_derive and nb_kahn_frames (nb_engine.c; the frames
       into an array the caller provides), once per problem: what every
       pixel would otherwise compute again.  The GPU reads them from constant memory instead of
       holding them in registers.  The same operations as nanoBragg's: no value changes. */
    const double *kahn_frames;        /* 9 per source: the unit incident direction, the normal B
                                         to the polarization plane and the E-vector direction */
    double towards[3];                /* distance * beam: where the curved detector's rotations start */
    int k_stride, h_stride;           /* Fhkl offsets of one step in k and in h */
    double hkl_min[3], hkl_range[3];  /* h_min, k_min, l_min and the ranges, as doubles (the
                                         interpolation's bounds test) */
    float Na_f, Nb_f, Nc_f, fudge_f;  /* the lattice factor's constants in single precision */
    float a_star_f[3], b_star_f[3], c_star_f[3];
} nb_problem;

/* The evaluation that switched interpolation off: its fractional and nearest indices, which
   nanoBragg's warning prints. */
typedef struct nb_switch_off {
    double h, k, l;
    int h0, k0, l0;
} nb_switch_off;

/* What a pixel carries to the next one: the two pieces of global state nanoBragg has. */
typedef struct nb_pixel_state {
    int first_sweep;    /* 1 until the run's first phi sweep has been evaluated */
    int interpolate;    /* tricubic interpolation switch; the first out-of-range index turns it off */
    int switched_off;   /* set by the evaluation that turned interpolation off ... */
    nb_switch_off off;  /* ... with its indices */
} nb_pixel_state;

/* Everything -trace_pixel and -printout show for one pixel: the last evaluation's values. */
typedef struct nb_trace {
    double pixel_pos[3], diffracted[3], incident[3], scattering[3];
    double lambda, stol;
    double a[3], b[3], c[3];
    double h, k, l;
    int h0, k0, l0;
    double F_latt_a, F_latt_b, F_latt_c, F_latt, F_cell;
    double I, omega, polar, capture_fraction;
    double Fdet, Sdet;
    int evaluations;    /* lattice-factor evaluations in this pixel (h..F_latt, a, b, c set) */
    int cell_evaluations;   /* structure-factor evaluations (F_cell set) */
    double value;       /* what is added to the float image */
} nb_trace;
