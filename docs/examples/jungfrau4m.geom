; JUNGFRAU 4M: 8 modules of 1030 x 514 pixels of 75 um, 2 across x 4 down, for nbgpu (-geom).
; Written by the nbgpu authors from published numbers, not copied from any facility's file:
; - a JUNGFRAU module is 4 x 2 ASICs of 256 x 256 pixels of 75 um (1024 x 512; PSI / European XFEL
;   JUNGFRAU documentation); with the doubled pixels at the ASIC borders split into two it is
;   stored as 1030 x 514 pixels.
; - a 4M image with its gaps is 2068 x 2164 pixels (PSI Jungfraujoch documentation), so the gaps
;   between modules are 2068 - 2 x 1030 = 8 pixels across and (2164 - 4 x 514) / 3 = 36 down.
; The modules are stored stacked down the data block (8 x 514 rows of 1030), as a JUNGFRAU
; receiver writes them; the detector is centred on the beam, 100 mm from the sample.
photon_energy = 12400
res = 13333.333333
clen = 0.100
coffset = 0.0
adu_per_photon = 1
data = /data/data
dim0 = %
dim1 = ss
dim2 = fs
m0/min_fs = 0
m0/max_fs = 1029
m0/min_ss = 0
m0/max_ss = 513
m0/corner_x = -1034
m0/corner_y = 1082
m0/fs = +1.0x +0.0y
m0/ss = +0.0x -1.0y

m1/min_fs = 0
m1/max_fs = 1029
m1/min_ss = 514
m1/max_ss = 1027
m1/corner_x = 4
m1/corner_y = 1082
m1/fs = +1.0x +0.0y
m1/ss = +0.0x -1.0y

m2/min_fs = 0
m2/max_fs = 1029
m2/min_ss = 1028
m2/max_ss = 1541
m2/corner_x = -1034
m2/corner_y = 532
m2/fs = +1.0x +0.0y
m2/ss = +0.0x -1.0y

m3/min_fs = 0
m3/max_fs = 1029
m3/min_ss = 1542
m3/max_ss = 2055
m3/corner_x = 4
m3/corner_y = 532
m3/fs = +1.0x +0.0y
m3/ss = +0.0x -1.0y

m4/min_fs = 0
m4/max_fs = 1029
m4/min_ss = 2056
m4/max_ss = 2569
m4/corner_x = -1034
m4/corner_y = -18
m4/fs = +1.0x +0.0y
m4/ss = +0.0x -1.0y

m5/min_fs = 0
m5/max_fs = 1029
m5/min_ss = 2570
m5/max_ss = 3083
m5/corner_x = 4
m5/corner_y = -18
m5/fs = +1.0x +0.0y
m5/ss = +0.0x -1.0y

m6/min_fs = 0
m6/max_fs = 1029
m6/min_ss = 3084
m6/max_ss = 3597
m6/corner_x = -1034
m6/corner_y = -568
m6/fs = +1.0x +0.0y
m6/ss = +0.0x -1.0y

m7/min_fs = 0
m7/max_fs = 1029
m7/min_ss = 3598
m7/max_ss = 4111
m7/corner_x = 4
m7/corner_y = -568
m7/fs = +1.0x +0.0y
m7/ss = +0.0x -1.0y

