; EIGER2 X 16M: 32 modules, 4 across x 8 down, pixels of 75 um, for nbgpu (-geom).
; Written by the nbgpu authors from published numbers, not copied from any facility's file:
; - an EIGER2 X 16M image is 4150 x 4371 pixels of 75 um (DECTRIS specification, as the LImA
;   EIGER documentation lists it);
; - a module is 4 x 2 ASICs of 256 x 256 pixels (1028 x 512 sensor pixels with the doubled
;   pixels between ASICs, 1030 x 514 in the image);
; - so the gaps between modules are (4150 - 4 x 1030) / 3 = 10 pixels across and
;   (4371 - 8 x 514) / 7 = 37 down.
; The data block is the whole image, gaps included, as EIGER files store it; the beam meets its
; centre, 150 mm from the sample.
photon_energy = 12400
res = 13333.333333
clen = 0.150
adu_per_photon = 1
data = /entry/data/data
dim0 = %
dim1 = ss
dim2 = fs
m0/min_fs = 0
m0/max_fs = 1029
m0/min_ss = 0
m0/max_ss = 513
m0/corner_x = -2075
m0/corner_y = 2185.5
m0/fs = +1.0x +0.0y
m0/ss = +0.0x -1.0y

m1/min_fs = 1040
m1/max_fs = 2069
m1/min_ss = 0
m1/max_ss = 513
m1/corner_x = -1035
m1/corner_y = 2185.5
m1/fs = +1.0x +0.0y
m1/ss = +0.0x -1.0y

m2/min_fs = 2080
m2/max_fs = 3109
m2/min_ss = 0
m2/max_ss = 513
m2/corner_x = 5
m2/corner_y = 2185.5
m2/fs = +1.0x +0.0y
m2/ss = +0.0x -1.0y

m3/min_fs = 3120
m3/max_fs = 4149
m3/min_ss = 0
m3/max_ss = 513
m3/corner_x = 1045
m3/corner_y = 2185.5
m3/fs = +1.0x +0.0y
m3/ss = +0.0x -1.0y

m4/min_fs = 0
m4/max_fs = 1029
m4/min_ss = 551
m4/max_ss = 1064
m4/corner_x = -2075
m4/corner_y = 1634.5
m4/fs = +1.0x +0.0y
m4/ss = +0.0x -1.0y

m5/min_fs = 1040
m5/max_fs = 2069
m5/min_ss = 551
m5/max_ss = 1064
m5/corner_x = -1035
m5/corner_y = 1634.5
m5/fs = +1.0x +0.0y
m5/ss = +0.0x -1.0y

m6/min_fs = 2080
m6/max_fs = 3109
m6/min_ss = 551
m6/max_ss = 1064
m6/corner_x = 5
m6/corner_y = 1634.5
m6/fs = +1.0x +0.0y
m6/ss = +0.0x -1.0y

m7/min_fs = 3120
m7/max_fs = 4149
m7/min_ss = 551
m7/max_ss = 1064
m7/corner_x = 1045
m7/corner_y = 1634.5
m7/fs = +1.0x +0.0y
m7/ss = +0.0x -1.0y

m8/min_fs = 0
m8/max_fs = 1029
m8/min_ss = 1102
m8/max_ss = 1615
m8/corner_x = -2075
m8/corner_y = 1083.5
m8/fs = +1.0x +0.0y
m8/ss = +0.0x -1.0y

m9/min_fs = 1040
m9/max_fs = 2069
m9/min_ss = 1102
m9/max_ss = 1615
m9/corner_x = -1035
m9/corner_y = 1083.5
m9/fs = +1.0x +0.0y
m9/ss = +0.0x -1.0y

m10/min_fs = 2080
m10/max_fs = 3109
m10/min_ss = 1102
m10/max_ss = 1615
m10/corner_x = 5
m10/corner_y = 1083.5
m10/fs = +1.0x +0.0y
m10/ss = +0.0x -1.0y

m11/min_fs = 3120
m11/max_fs = 4149
m11/min_ss = 1102
m11/max_ss = 1615
m11/corner_x = 1045
m11/corner_y = 1083.5
m11/fs = +1.0x +0.0y
m11/ss = +0.0x -1.0y

m12/min_fs = 0
m12/max_fs = 1029
m12/min_ss = 1653
m12/max_ss = 2166
m12/corner_x = -2075
m12/corner_y = 532.5
m12/fs = +1.0x +0.0y
m12/ss = +0.0x -1.0y

m13/min_fs = 1040
m13/max_fs = 2069
m13/min_ss = 1653
m13/max_ss = 2166
m13/corner_x = -1035
m13/corner_y = 532.5
m13/fs = +1.0x +0.0y
m13/ss = +0.0x -1.0y

m14/min_fs = 2080
m14/max_fs = 3109
m14/min_ss = 1653
m14/max_ss = 2166
m14/corner_x = 5
m14/corner_y = 532.5
m14/fs = +1.0x +0.0y
m14/ss = +0.0x -1.0y

m15/min_fs = 3120
m15/max_fs = 4149
m15/min_ss = 1653
m15/max_ss = 2166
m15/corner_x = 1045
m15/corner_y = 532.5
m15/fs = +1.0x +0.0y
m15/ss = +0.0x -1.0y

m16/min_fs = 0
m16/max_fs = 1029
m16/min_ss = 2204
m16/max_ss = 2717
m16/corner_x = -2075
m16/corner_y = -18.5
m16/fs = +1.0x +0.0y
m16/ss = +0.0x -1.0y

m17/min_fs = 1040
m17/max_fs = 2069
m17/min_ss = 2204
m17/max_ss = 2717
m17/corner_x = -1035
m17/corner_y = -18.5
m17/fs = +1.0x +0.0y
m17/ss = +0.0x -1.0y

m18/min_fs = 2080
m18/max_fs = 3109
m18/min_ss = 2204
m18/max_ss = 2717
m18/corner_x = 5
m18/corner_y = -18.5
m18/fs = +1.0x +0.0y
m18/ss = +0.0x -1.0y

m19/min_fs = 3120
m19/max_fs = 4149
m19/min_ss = 2204
m19/max_ss = 2717
m19/corner_x = 1045
m19/corner_y = -18.5
m19/fs = +1.0x +0.0y
m19/ss = +0.0x -1.0y

m20/min_fs = 0
m20/max_fs = 1029
m20/min_ss = 2755
m20/max_ss = 3268
m20/corner_x = -2075
m20/corner_y = -569.5
m20/fs = +1.0x +0.0y
m20/ss = +0.0x -1.0y

m21/min_fs = 1040
m21/max_fs = 2069
m21/min_ss = 2755
m21/max_ss = 3268
m21/corner_x = -1035
m21/corner_y = -569.5
m21/fs = +1.0x +0.0y
m21/ss = +0.0x -1.0y

m22/min_fs = 2080
m22/max_fs = 3109
m22/min_ss = 2755
m22/max_ss = 3268
m22/corner_x = 5
m22/corner_y = -569.5
m22/fs = +1.0x +0.0y
m22/ss = +0.0x -1.0y

m23/min_fs = 3120
m23/max_fs = 4149
m23/min_ss = 2755
m23/max_ss = 3268
m23/corner_x = 1045
m23/corner_y = -569.5
m23/fs = +1.0x +0.0y
m23/ss = +0.0x -1.0y

m24/min_fs = 0
m24/max_fs = 1029
m24/min_ss = 3306
m24/max_ss = 3819
m24/corner_x = -2075
m24/corner_y = -1120.5
m24/fs = +1.0x +0.0y
m24/ss = +0.0x -1.0y

m25/min_fs = 1040
m25/max_fs = 2069
m25/min_ss = 3306
m25/max_ss = 3819
m25/corner_x = -1035
m25/corner_y = -1120.5
m25/fs = +1.0x +0.0y
m25/ss = +0.0x -1.0y

m26/min_fs = 2080
m26/max_fs = 3109
m26/min_ss = 3306
m26/max_ss = 3819
m26/corner_x = 5
m26/corner_y = -1120.5
m26/fs = +1.0x +0.0y
m26/ss = +0.0x -1.0y

m27/min_fs = 3120
m27/max_fs = 4149
m27/min_ss = 3306
m27/max_ss = 3819
m27/corner_x = 1045
m27/corner_y = -1120.5
m27/fs = +1.0x +0.0y
m27/ss = +0.0x -1.0y

m28/min_fs = 0
m28/max_fs = 1029
m28/min_ss = 3857
m28/max_ss = 4370
m28/corner_x = -2075
m28/corner_y = -1671.5
m28/fs = +1.0x +0.0y
m28/ss = +0.0x -1.0y

m29/min_fs = 1040
m29/max_fs = 2069
m29/min_ss = 3857
m29/max_ss = 4370
m29/corner_x = -1035
m29/corner_y = -1671.5
m29/fs = +1.0x +0.0y
m29/ss = +0.0x -1.0y

m30/min_fs = 2080
m30/max_fs = 3109
m30/min_ss = 3857
m30/max_ss = 4370
m30/corner_x = 5
m30/corner_y = -1671.5
m30/fs = +1.0x +0.0y
m30/ss = +0.0x -1.0y

m31/min_fs = 3120
m31/max_fs = 4149
m31/min_ss = 3857
m31/max_ss = 4370
m31/corner_x = 1045
m31/corner_y = -1671.5
m31/fs = +1.0x +0.0y
m31/ss = +0.0x -1.0y

