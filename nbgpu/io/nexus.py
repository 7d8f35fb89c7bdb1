"""NeXus/HDF5 images in the NXmx application definition, through h5py (an extra: nbgpu[nexus]).

The geometry is nanoBragg's, expressed in NeXus' McStas frame: z along the beam, y the
component of nanoBragg's +y axis normal to it (for the mosflm convention that is DIALS' vertical),
x = y cross z.  The detector is one NXdetector_module per panel: the detector's `origin` is a
translation from the sample to the first panel's corner (pix0); each module's `module_offset`
moves from there to its own corner (0 for the first), and its fast and slow pixel directions are
the panel's fdet and sdet.  A frame is one (slow, fast) block holding every panel at its
`data_origin` (a -geom/-expt detector: its panels stacked, setup/panels.py).  The sample rotates
about the spindle axis by phi, right-handed, one value per frame.  A one-panel detector's
distance and beam centre are computed from that chain (where the beam meets the detector
plane), so they cannot contradict it; a multi-panel detector has no single plane, so it has no
such fields (a reader takes the chain).  Frames are (frames, slow, fast) unsigned 16-bit
integers, chunked per frame, bitshuffle/LZ4-compressed when hdf5plugin is installed (or asked).
"""
from __future__ import annotations

from nbgpu.base.choices import COMPRESSIONS
from nbgpu.base.errors import InputError
from nbgpu.base.records import Record
from nbgpu.base.vectors import beam_hit, cross, dot, magnitude, unitize

DETECTOR = "/entry/instrument/detector"


class NexusModule(Record):
    """One panel in the McStas frame (metres, unit vectors) and where it lies in a frame."""
    fpixels: int
    spixels: int
    origin: tuple                    # pix0: the corner of pixel (0, 0)
    fast_axis: tuple
    slow_axis: tuple
    data_origin: tuple = (0, 0)      # (slow, fast) of its pixel (0, 0) in the frame


class NexusGeometry(Record):
    """The run's geometry in the McStas frame (metres, unit vectors)."""
    fpixels: int                     # a frame's size (every panel's pixels, data_origin)
    spixels: int
    pixel_size: float
    modules: tuple                   # NexusModule of each panel
    spindle: tuple
    wavelength: float
    exposure: float                  # s
    flux: float                      # photons/s
    beam_size: float                 # m
    sensor_thickness: float          # m (0: not given)

    def sweep_key(self) -> "NexusGeometry":
        """What every frame of one NeXus file shares: all but the dose."""
        return self.replace(exposure=0.0, flux=0.0, beam_size=0.0)


def mcstas_basis(beam) -> tuple:
    """(x, y, z) of the McStas frame as unit vectors of nanoBragg's frame."""
    z, _ = unitize(beam)
    for up in ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0)):
        along = dot(up, z)
        y = [u - along * v for u, v in zip(up, z)]
        if magnitude(y) > 1e-6:
            y, _ = unitize(y)
            return tuple(cross(y, z)), tuple(y), tuple(z)
    raise ValueError("no beam direction")


def to_mcstas(basis, v) -> tuple:
    return tuple(dot(axis, v) for axis in basis)


def timestamp() -> str:
    """Now, as ISO 8601 with the time zone; SOURCE_DATE_EPOCH (seconds) fixes it, for files that
    must come out the same byte for byte."""
    import datetime
    import os
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch and epoch.isdigit() \
        else datetime.datetime.now(datetime.timezone.utc)
    return when.isoformat(timespec="seconds")


def h5py_module(flag: str):
    try:
        import h5py
    except ImportError:
        raise InputError(f"{flag}: NeXus output needs h5py: pip install 'nbgpu[nexus]'") from None
    return h5py


def compression_options(mode: str, flag: str) -> dict:
    """h5py create_dataset options for -nexus_compression (auto: bitshuffle/LZ4 when hdf5plugin
    is installed)."""
    if mode == "none":
        return {}
    try:
        import hdf5plugin
    except ImportError:
        if mode == "auto":
            return {}
        raise InputError(f"{flag}: -nexus_compression bslz4 needs hdf5plugin: pip install 'nbgpu[nexus]'") from None
    return dict(hdf5plugin.Bitshuffle(cname="lz4"))


def check_available(flag: str, compression: str):
    """Fail before rendering when the compression is unknown or the packages a NeXus file
    needs are missing."""
    if compression not in COMPRESSIONS:
        raise InputError(f"{flag}: compression {compression!r} is not one of {', '.join(COMPRESSIONS)}")
    h5py_module(flag)
    compression_options(compression, flag)


class SafeSink:
    """The file h5py writes through (its file-object driver), which never fails a write.

    HDF5 that saw a write fail (a full disk) cannot close the file cleanly, and h5py then
    crashes the process when it frees its objects.  So a failed write is remembered, the later
    ones are skipped, HDF5 is told every write succeeded, and the failure is raised by check()
    (after each frame, and once h5py has closed the file): the file is then discarded."""

    def __init__(self, handle):
        self.handle = handle              # an open binary file (read, write, seek)
        self.error = None

    def write(self, data) -> int:
        from nbgpu.io.files import write_chunks
        if self.error is None:
            try:
                write_chunks(self.handle, [data])
            except OSError as err:
                self.error = err
        return memoryview(data).nbytes

    def truncate(self, size=None):
        if self.error is None:
            try:
                self.handle.truncate(size)
            except OSError as err:
                self.error = err
        return size

    def readinto(self, buffer):
        return self.handle.readinto(buffer)

    def read(self, size=-1):
        return self.handle.read(size)

    def seek(self, offset, whence=0):
        return self.handle.seek(offset, whence)

    def tell(self):
        return self.handle.tell()

    def flush(self):
        if self.error is None:
            try:
                self.handle.flush()
            except OSError as err:
                self.error = err

    def check(self):
        """OSError when a write failed."""
        if self.error is not None:
            raise self.error


class NexusWriter:
    """An NXmx file being written into `handle` (an open, empty binary file: the caller puts
    it in place): the geometry first, then one frame at a time, then close().  A write that
    fails (OSError) leaves the file to be discarded."""

    def __init__(self, handle, g: NexusGeometry, compression: str = "auto", noise: bool = False,
                 flag: str = "-nexusfile"):
        h5py = h5py_module(flag)
        import numpy as np
        self.np, self.frames, self.phis, self.oscs = np, 0, [], []
        self.sink = SafeSink(handle)
        self.file = f = h5py.File(self.sink, "w")
        options = dict(chunks=(1, g.spixels, g.fpixels), maxshape=(None, g.spixels, g.fpixels),
                       **compression_options(compression, flag))
        entry = self._group(f, "entry", "NXentry", default="data")
        entry["definition"] = "NXmx"
        entry["title"] = "nbgpu simulation (nanoBragg geometry)"
        entry["start_time"] = entry["end_time"] = timestamp()
        data = self._group(entry, "data", "NXdata", signal="data")
        self.data = data.create_dataset("data", shape=(0, g.spixels, g.fpixels), dtype="uint16", **options)
        self.noise = None
        if noise:
            self.noise = self._group(entry, "noise", "NXdata", signal="data").create_dataset(
                "data", shape=(0, g.spixels, g.fpixels), dtype="uint16", **options)

        instrument = self._group(entry, "instrument", "NXinstrument")
        instrument["name"] = "nbgpu"
        detector = self._group(instrument, "detector", "NXdetector")
        detector["data"] = self.data                   # a hard link: the same pixels
        detector["depends_on"] = f"{DETECTOR}/transformations/origin"
        detector["description"] = "simulated pixel detector"
        detector["type"] = "pixel"
        first = g.modules[0]
        hit = None
        if len(g.modules) == 1:          # several panels: no one plane for these fields
            hit = beam_hit(first.origin, first.fast_axis, first.slow_axis, (0.0, 0.0, 1.0), g.pixel_size)
        if hit is not None:              # else the beam misses the detector plane: no such fields
            self._value(detector, "distance", hit[0], "m")
            self._value(detector, "beam_center_x", hit[1], "pixel")
            self._value(detector, "beam_center_y", hit[2], "pixel")
        self._value(detector, "x_pixel_size", g.pixel_size, "m")
        self._value(detector, "y_pixel_size", g.pixel_size, "m")
        self._value(detector, "count_time", g.exposure, "s")
        detector["saturation_value"] = np.int64(65535)
        detector["sensor_material"] = "Si"
        self._value(detector, "sensor_thickness", g.sensor_thickness, "m")
        transformations = self._group(detector, "transformations", "NXtransformations")
        self._translation(transformations, "origin", first.origin, ".", (0.0, 0.0, 1.0))
        for i, m in enumerate(g.modules):
            name = "module" if len(g.modules) == 1 else f"module{i:0{len(str(len(g.modules) - 1))}d}"
            module = self._group(detector, name, "NXdetector_module")
            module["data_origin"] = np.array(m.data_origin, dtype=np.int64)
            module["data_size"] = np.array([m.spixels, m.fpixels], dtype=np.int64)
            self._translation(module, "module_offset", [a - b for a, b in zip(m.origin, first.origin)],
                              f"{DETECTOR}/transformations/origin")
            self._axis(module, "fast_pixel_direction", g.pixel_size, "m", "translation", m.fast_axis,
                       f"{DETECTOR}/{name}/module_offset")
            self._axis(module, "slow_pixel_direction", g.pixel_size, "m", "translation", m.slow_axis,
                       f"{DETECTOR}/{name}/module_offset")

        sample = self._group(entry, "sample", "NXsample")
        sample["name"] = "simulated crystal"
        sample["depends_on"] = "/entry/sample/transformations/phi"
        self.goniometer = self._group(sample, "transformations", "NXtransformations")
        self.spindle = g.spindle
        beam = self._group(sample, "beam", "NXbeam")
        instrument["beam"] = beam           # NXmx of 2018 wants it in the sample, later ones in the instrument
        self._value(beam, "incident_wavelength", g.wavelength * 1e10, "angstrom")
        self._value(beam, "total_flux", g.flux, "Hz")
        if g.beam_size > 0:
            beam["incident_beam_size"] = np.array([g.beam_size, g.beam_size])
            beam["incident_beam_size"].attrs["units"] = "m"

    @staticmethod
    def _group(parent, name, nx_class, **attrs):
        group = parent.create_group(name)
        group.attrs["NX_class"] = nx_class
        for key, value in attrs.items():
            group.attrs[key] = value
        return group

    @staticmethod
    def _value(group, name, value, units):
        group[name] = float(value)
        group[name].attrs["units"] = units

    def _translation(self, group, name, vector, depends_on, zero=(1.0, 0.0, 0.0)):
        """A translation by `vector` (m), as its length along its direction (`zero`'s when it
        has none)."""
        unit, length = unitize(vector)
        direction = tuple(unit) if length > 0 else zero
        self._axis(group, name, length, "m", "translation", direction, depends_on)

    def _axis(self, group, name, value, units, kind, vector, depends_on):
        np = self.np
        group[name] = np.atleast_1d(np.asarray(value, dtype=np.float64))
        dataset = group[name]
        dataset.attrs["units"] = units
        dataset.attrs["transformation_type"] = kind
        dataset.attrs["vector"] = np.asarray(vector, dtype=np.float64)
        dataset.attrs["offset"] = np.zeros(3)
        dataset.attrs["offset_units"] = "m"
        dataset.attrs["depends_on"] = depends_on

    def append(self, ints, phi: float, osc: float, noise=None):
        """One frame: its integer image, its noise image (when the file has one), and its
        rotation (start and width, degrees)."""
        np = self.np
        n = self.frames
        self.data.resize(n + 1, axis=0)
        self.data[n] = np.asarray(ints, dtype=np.uint16)
        if self.noise is not None:
            self.noise.resize(n + 1, axis=0)
            self.noise[n] = np.asarray(noise, dtype=np.uint16)
        self.phis.append(phi)
        self.oscs.append(osc)
        self.frames += 1
        self.sink.check()

    def close(self):
        """The rotation of every frame, then the file is complete."""
        np = self.np
        phis, oscs = np.asarray(self.phis, dtype=np.float64), np.asarray(self.oscs, dtype=np.float64)
        self._axis(self.goniometer, "phi", phis, "deg", "rotation", self.spindle, ".")
        self.goniometer["phi_end"] = phis + oscs
        self.goniometer["phi_end"].attrs["units"] = "deg"
        increment = oscs[0] if len(oscs) and np.all(oscs == oscs[0]) else oscs
        self.goniometer["phi_increment_set"] = increment
        self.goniometer["phi_increment_set"].attrs["units"] = "deg"
        self.file.close()
        self.sink.flush()
        self.sink.check()

    def discard(self):
        try:
            self.file.close()
        except Exception:          # noqa: BLE001 -- closing a broken file: nothing left to save
            pass


class NexusStack:
    """Frames of one detector gathered into one NXmx file, which appears at `path` only when
    complete (commit, by the rule every output is written by: io.files); discard() leaves
    nothing behind."""

    def __init__(self, path, compression: str = "auto", flag: str = "--nexus"):
        self.path, self.compression, self.flag = path, compression, flag
        self.output = self.writer = self.geometry = None

    def add(self, g: NexusGeometry, ints, phi: float, osc: float, noise=None):
        """One frame (images as (slow, fast) arrays); every frame must share the first's detector,
        beam direction, spindle and wavelength."""
        same = g.sweep_key()
        if self.writer is None:
            self.start(g, noise is not None)
            self.geometry = same
        elif same != self.geometry:
            raise InputError(f"{self.flag} {self.path}: this frame's detector, spindle or wavelength differs "
                             "from the first frame's (one NeXus file holds one detector's sweep)")
        elif (noise is None) != (self.writer.noise is None):
            raise InputError(f"{self.flag} {self.path}: every frame needs a noise image, or none")
        try:
            self.writer.append(ints, phi, osc, noise)
        except OSError as err:
            self.discard()
            raise self.write_error(err) from err

    def start(self, g: NexusGeometry, noise: bool):
        from nbgpu.io.files import Staged
        try:
            output = Staged(self.path)
            handle = output.scratch()
        except InputError as err:
            raise InputError(f"{self.flag}: {err}") from err
        try:
            self.writer = NexusWriter(handle, g, self.compression, noise, self.flag)
        except BaseException as err:
            output.discard()
            if isinstance(err, OSError):
                raise self.write_error(err) from err
            raise
        self.output = output

    def write_error(self, err: OSError) -> InputError:
        from nbgpu.io.files import write_error
        return InputError(f"{self.flag}: {write_error(self.path, err)}")

    def commit(self):
        """The file into place; when that fails, nothing is left behind (InputError)."""
        if self.writer is None:
            raise InputError(f"{self.flag} {self.path}: no frame to write")
        try:
            self.writer.close()
            self.writer = None
        except OSError as err:
            self.discard()
            raise self.write_error(err) from err
        try:
            self.output.commit()
        except InputError as err:
            raise InputError(f"{self.flag}: {err}") from err
        finally:
            self.output = None

    def discard(self):
        if self.writer is not None:
            self.writer.discard()
            self.writer = None
        if self.output is not None:
            self.output.discard()
            self.output = None
