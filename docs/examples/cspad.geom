; CSPAD: 64 ASICs of 194 x 185 pixels of 110 um, for nbgpu (-geom).
; Written by the nbgpu authors from published numbers, not copied from any facility's file:
; - the CSPAD (SLAC) is 4 quadrants of 8 sensors ("2x1"), each sensor two ASICs of 194 x 185
;   pixels of 110 um side by side; between the two ASICs of a sensor are two columns of
;   274.8 um pixels, drawn here as a gap of 3 pixels (330 um).
; - the data block is the layout psana/Cheetah write: 1552 x 1480, quadrant q in fs
;   q*388 .. q*388+387, sensor s of a quadrant in ss s*185 .. s*185+184, its two ASICs side by side.
; The sensors of a quadrant lie as pairs, alternately across and along, and the quadrants are
; turned by 90 degrees about the beam, one after another, as in the CSPAD's published drawings
; (an idealized layout, not a metrology); 80 mm from the sample.
photon_energy = 9500
res = 9090.909091
clen = 0.080
adu_per_photon = 1
data = /data/data
q0a0/min_fs = 0
q0a0/max_fs = 193
q0a0/min_ss = 0
q0a0/max_ss = 184
q0a0/corner_x = 12
q0a0/corner_y = 390
q0a0/fs = +1.000000x +0.000000y
q0a0/ss = +0.000000x -1.000000y

q0a1/min_fs = 194
q0a1/max_fs = 387
q0a1/min_ss = 0
q0a1/max_ss = 184
q0a1/corner_x = 209
q0a1/corner_y = 390
q0a1/fs = +1.000000x +0.000000y
q0a1/ss = +0.000000x -1.000000y

q0a2/min_fs = 0
q0a2/max_fs = 193
q0a2/min_ss = 185
q0a2/max_ss = 369
q0a2/corner_x = 12
q0a2/corner_y = 201
q0a2/fs = +1.000000x +0.000000y
q0a2/ss = +0.000000x -1.000000y

q0a3/min_fs = 194
q0a3/max_fs = 387
q0a3/min_ss = 185
q0a3/max_ss = 369
q0a3/corner_x = 209
q0a3/corner_y = 201
q0a3/fs = +1.000000x +0.000000y
q0a3/ss = +0.000000x -1.000000y

q0a4/min_fs = 0
q0a4/max_fs = 193
q0a4/min_ss = 370
q0a4/max_ss = 554
q0a4/corner_x = 390
q0a4/corner_y = 781
q0a4/fs = +0.000000x -1.000000y
q0a4/ss = -1.000000x +0.000000y

q0a5/min_fs = 194
q0a5/max_fs = 387
q0a5/min_ss = 370
q0a5/max_ss = 554
q0a5/corner_x = 390
q0a5/corner_y = 584
q0a5/fs = +0.000000x -1.000000y
q0a5/ss = -1.000000x +0.000000y

q0a6/min_fs = 0
q0a6/max_fs = 193
q0a6/min_ss = 555
q0a6/max_ss = 739
q0a6/corner_x = 201
q0a6/corner_y = 781
q0a6/fs = +0.000000x -1.000000y
q0a6/ss = -1.000000x +0.000000y

q0a7/min_fs = 194
q0a7/max_fs = 387
q0a7/min_ss = 555
q0a7/max_ss = 739
q0a7/corner_x = 201
q0a7/corner_y = 584
q0a7/fs = +0.000000x -1.000000y
q0a7/ss = -1.000000x +0.000000y

q0a8/min_fs = 0
q0a8/max_fs = 193
q0a8/min_ss = 740
q0a8/max_ss = 924
q0a8/corner_x = 390
q0a8/corner_y = 768
q0a8/fs = +1.000000x +0.000000y
q0a8/ss = +0.000000x -1.000000y

q0a9/min_fs = 194
q0a9/max_fs = 387
q0a9/min_ss = 740
q0a9/max_ss = 924
q0a9/corner_x = 587
q0a9/corner_y = 768
q0a9/fs = +1.000000x +0.000000y
q0a9/ss = +0.000000x -1.000000y

q0a10/min_fs = 0
q0a10/max_fs = 193
q0a10/min_ss = 925
q0a10/max_ss = 1109
q0a10/corner_x = 390
q0a10/corner_y = 579
q0a10/fs = +1.000000x +0.000000y
q0a10/ss = +0.000000x -1.000000y

q0a11/min_fs = 194
q0a11/max_fs = 387
q0a11/min_ss = 925
q0a11/max_ss = 1109
q0a11/corner_x = 587
q0a11/corner_y = 579
q0a11/fs = +1.000000x +0.000000y
q0a11/ss = +0.000000x -1.000000y

q0a12/min_fs = 0
q0a12/max_fs = 193
q0a12/min_ss = 1110
q0a12/max_ss = 1294
q0a12/corner_x = 768
q0a12/corner_y = 403
q0a12/fs = +0.000000x -1.000000y
q0a12/ss = -1.000000x +0.000000y

q0a13/min_fs = 194
q0a13/max_fs = 387
q0a13/min_ss = 1110
q0a13/max_ss = 1294
q0a13/corner_x = 768
q0a13/corner_y = 206
q0a13/fs = +0.000000x -1.000000y
q0a13/ss = -1.000000x +0.000000y

q0a14/min_fs = 0
q0a14/max_fs = 193
q0a14/min_ss = 1295
q0a14/max_ss = 1479
q0a14/corner_x = 579
q0a14/corner_y = 403
q0a14/fs = +0.000000x -1.000000y
q0a14/ss = -1.000000x +0.000000y

q0a15/min_fs = 194
q0a15/max_fs = 387
q0a15/min_ss = 1295
q0a15/max_ss = 1479
q0a15/corner_x = 579
q0a15/corner_y = 206
q0a15/fs = +0.000000x -1.000000y
q0a15/ss = -1.000000x +0.000000y

q1a0/min_fs = 388
q1a0/max_fs = 581
q1a0/min_ss = 0
q1a0/max_ss = 184
q1a0/corner_x = -390
q1a0/corner_y = 12
q1a0/fs = +0.000000x +1.000000y
q1a0/ss = +1.000000x -0.000000y

q1a1/min_fs = 582
q1a1/max_fs = 775
q1a1/min_ss = 0
q1a1/max_ss = 184
q1a1/corner_x = -390
q1a1/corner_y = 209
q1a1/fs = +0.000000x +1.000000y
q1a1/ss = +1.000000x -0.000000y

q1a2/min_fs = 388
q1a2/max_fs = 581
q1a2/min_ss = 185
q1a2/max_ss = 369
q1a2/corner_x = -201
q1a2/corner_y = 12
q1a2/fs = +0.000000x +1.000000y
q1a2/ss = +1.000000x -0.000000y

q1a3/min_fs = 582
q1a3/max_fs = 775
q1a3/min_ss = 185
q1a3/max_ss = 369
q1a3/corner_x = -201
q1a3/corner_y = 209
q1a3/fs = +0.000000x +1.000000y
q1a3/ss = +1.000000x -0.000000y

q1a4/min_fs = 388
q1a4/max_fs = 581
q1a4/min_ss = 370
q1a4/max_ss = 554
q1a4/corner_x = -781
q1a4/corner_y = 390
q1a4/fs = +1.000000x -0.000000y
q1a4/ss = -0.000000x -1.000000y

q1a5/min_fs = 582
q1a5/max_fs = 775
q1a5/min_ss = 370
q1a5/max_ss = 554
q1a5/corner_x = -584
q1a5/corner_y = 390
q1a5/fs = +1.000000x -0.000000y
q1a5/ss = -0.000000x -1.000000y

q1a6/min_fs = 388
q1a6/max_fs = 581
q1a6/min_ss = 555
q1a6/max_ss = 739
q1a6/corner_x = -781
q1a6/corner_y = 201
q1a6/fs = +1.000000x -0.000000y
q1a6/ss = -0.000000x -1.000000y

q1a7/min_fs = 582
q1a7/max_fs = 775
q1a7/min_ss = 555
q1a7/max_ss = 739
q1a7/corner_x = -584
q1a7/corner_y = 201
q1a7/fs = +1.000000x -0.000000y
q1a7/ss = -0.000000x -1.000000y

q1a8/min_fs = 388
q1a8/max_fs = 581
q1a8/min_ss = 740
q1a8/max_ss = 924
q1a8/corner_x = -768
q1a8/corner_y = 390
q1a8/fs = +0.000000x +1.000000y
q1a8/ss = +1.000000x -0.000000y

q1a9/min_fs = 582
q1a9/max_fs = 775
q1a9/min_ss = 740
q1a9/max_ss = 924
q1a9/corner_x = -768
q1a9/corner_y = 587
q1a9/fs = +0.000000x +1.000000y
q1a9/ss = +1.000000x -0.000000y

q1a10/min_fs = 388
q1a10/max_fs = 581
q1a10/min_ss = 925
q1a10/max_ss = 1109
q1a10/corner_x = -579
q1a10/corner_y = 390
q1a10/fs = +0.000000x +1.000000y
q1a10/ss = +1.000000x -0.000000y

q1a11/min_fs = 582
q1a11/max_fs = 775
q1a11/min_ss = 925
q1a11/max_ss = 1109
q1a11/corner_x = -579
q1a11/corner_y = 587
q1a11/fs = +0.000000x +1.000000y
q1a11/ss = +1.000000x -0.000000y

q1a12/min_fs = 388
q1a12/max_fs = 581
q1a12/min_ss = 1110
q1a12/max_ss = 1294
q1a12/corner_x = -403
q1a12/corner_y = 768
q1a12/fs = +1.000000x -0.000000y
q1a12/ss = -0.000000x -1.000000y

q1a13/min_fs = 582
q1a13/max_fs = 775
q1a13/min_ss = 1110
q1a13/max_ss = 1294
q1a13/corner_x = -206
q1a13/corner_y = 768
q1a13/fs = +1.000000x -0.000000y
q1a13/ss = -0.000000x -1.000000y

q1a14/min_fs = 388
q1a14/max_fs = 581
q1a14/min_ss = 1295
q1a14/max_ss = 1479
q1a14/corner_x = -403
q1a14/corner_y = 579
q1a14/fs = +1.000000x -0.000000y
q1a14/ss = -0.000000x -1.000000y

q1a15/min_fs = 582
q1a15/max_fs = 775
q1a15/min_ss = 1295
q1a15/max_ss = 1479
q1a15/corner_x = -206
q1a15/corner_y = 579
q1a15/fs = +1.000000x -0.000000y
q1a15/ss = -0.000000x -1.000000y

q2a0/min_fs = 776
q2a0/max_fs = 969
q2a0/min_ss = 0
q2a0/max_ss = 184
q2a0/corner_x = -12
q2a0/corner_y = -390
q2a0/fs = -1.000000x +0.000000y
q2a0/ss = +0.000000x +1.000000y

q2a1/min_fs = 970
q2a1/max_fs = 1163
q2a1/min_ss = 0
q2a1/max_ss = 184
q2a1/corner_x = -209
q2a1/corner_y = -390
q2a1/fs = -1.000000x +0.000000y
q2a1/ss = +0.000000x +1.000000y

q2a2/min_fs = 776
q2a2/max_fs = 969
q2a2/min_ss = 185
q2a2/max_ss = 369
q2a2/corner_x = -12
q2a2/corner_y = -201
q2a2/fs = -1.000000x +0.000000y
q2a2/ss = +0.000000x +1.000000y

q2a3/min_fs = 970
q2a3/max_fs = 1163
q2a3/min_ss = 185
q2a3/max_ss = 369
q2a3/corner_x = -209
q2a3/corner_y = -201
q2a3/fs = -1.000000x +0.000000y
q2a3/ss = +0.000000x +1.000000y

q2a4/min_fs = 776
q2a4/max_fs = 969
q2a4/min_ss = 370
q2a4/max_ss = 554
q2a4/corner_x = -390
q2a4/corner_y = -781
q2a4/fs = +0.000000x +1.000000y
q2a4/ss = +1.000000x -0.000000y

q2a5/min_fs = 970
q2a5/max_fs = 1163
q2a5/min_ss = 370
q2a5/max_ss = 554
q2a5/corner_x = -390
q2a5/corner_y = -584
q2a5/fs = +0.000000x +1.000000y
q2a5/ss = +1.000000x -0.000000y

q2a6/min_fs = 776
q2a6/max_fs = 969
q2a6/min_ss = 555
q2a6/max_ss = 739
q2a6/corner_x = -201
q2a6/corner_y = -781
q2a6/fs = +0.000000x +1.000000y
q2a6/ss = +1.000000x -0.000000y

q2a7/min_fs = 970
q2a7/max_fs = 1163
q2a7/min_ss = 555
q2a7/max_ss = 739
q2a7/corner_x = -201
q2a7/corner_y = -584
q2a7/fs = +0.000000x +1.000000y
q2a7/ss = +1.000000x -0.000000y

q2a8/min_fs = 776
q2a8/max_fs = 969
q2a8/min_ss = 740
q2a8/max_ss = 924
q2a8/corner_x = -390
q2a8/corner_y = -768
q2a8/fs = -1.000000x +0.000000y
q2a8/ss = +0.000000x +1.000000y

q2a9/min_fs = 970
q2a9/max_fs = 1163
q2a9/min_ss = 740
q2a9/max_ss = 924
q2a9/corner_x = -587
q2a9/corner_y = -768
q2a9/fs = -1.000000x +0.000000y
q2a9/ss = +0.000000x +1.000000y

q2a10/min_fs = 776
q2a10/max_fs = 969
q2a10/min_ss = 925
q2a10/max_ss = 1109
q2a10/corner_x = -390
q2a10/corner_y = -579
q2a10/fs = -1.000000x +0.000000y
q2a10/ss = +0.000000x +1.000000y

q2a11/min_fs = 970
q2a11/max_fs = 1163
q2a11/min_ss = 925
q2a11/max_ss = 1109
q2a11/corner_x = -587
q2a11/corner_y = -579
q2a11/fs = -1.000000x +0.000000y
q2a11/ss = +0.000000x +1.000000y

q2a12/min_fs = 776
q2a12/max_fs = 969
q2a12/min_ss = 1110
q2a12/max_ss = 1294
q2a12/corner_x = -768
q2a12/corner_y = -403
q2a12/fs = +0.000000x +1.000000y
q2a12/ss = +1.000000x -0.000000y

q2a13/min_fs = 970
q2a13/max_fs = 1163
q2a13/min_ss = 1110
q2a13/max_ss = 1294
q2a13/corner_x = -768
q2a13/corner_y = -206
q2a13/fs = +0.000000x +1.000000y
q2a13/ss = +1.000000x -0.000000y

q2a14/min_fs = 776
q2a14/max_fs = 969
q2a14/min_ss = 1295
q2a14/max_ss = 1479
q2a14/corner_x = -579
q2a14/corner_y = -403
q2a14/fs = +0.000000x +1.000000y
q2a14/ss = +1.000000x -0.000000y

q2a15/min_fs = 970
q2a15/max_fs = 1163
q2a15/min_ss = 1295
q2a15/max_ss = 1479
q2a15/corner_x = -579
q2a15/corner_y = -206
q2a15/fs = +0.000000x +1.000000y
q2a15/ss = +1.000000x -0.000000y

q3a0/min_fs = 1164
q3a0/max_fs = 1357
q3a0/min_ss = 0
q3a0/max_ss = 184
q3a0/corner_x = 390
q3a0/corner_y = -12
q3a0/fs = -0.000000x -1.000000y
q3a0/ss = -1.000000x +0.000000y

q3a1/min_fs = 1358
q3a1/max_fs = 1551
q3a1/min_ss = 0
q3a1/max_ss = 184
q3a1/corner_x = 390
q3a1/corner_y = -209
q3a1/fs = -0.000000x -1.000000y
q3a1/ss = -1.000000x +0.000000y

q3a2/min_fs = 1164
q3a2/max_fs = 1357
q3a2/min_ss = 185
q3a2/max_ss = 369
q3a2/corner_x = 201
q3a2/corner_y = -12
q3a2/fs = -0.000000x -1.000000y
q3a2/ss = -1.000000x +0.000000y

q3a3/min_fs = 1358
q3a3/max_fs = 1551
q3a3/min_ss = 185
q3a3/max_ss = 369
q3a3/corner_x = 201
q3a3/corner_y = -209
q3a3/fs = -0.000000x -1.000000y
q3a3/ss = -1.000000x +0.000000y

q3a4/min_fs = 1164
q3a4/max_fs = 1357
q3a4/min_ss = 370
q3a4/max_ss = 554
q3a4/corner_x = 781
q3a4/corner_y = -390
q3a4/fs = -1.000000x +0.000000y
q3a4/ss = +0.000000x +1.000000y

q3a5/min_fs = 1358
q3a5/max_fs = 1551
q3a5/min_ss = 370
q3a5/max_ss = 554
q3a5/corner_x = 584
q3a5/corner_y = -390
q3a5/fs = -1.000000x +0.000000y
q3a5/ss = +0.000000x +1.000000y

q3a6/min_fs = 1164
q3a6/max_fs = 1357
q3a6/min_ss = 555
q3a6/max_ss = 739
q3a6/corner_x = 781
q3a6/corner_y = -201
q3a6/fs = -1.000000x +0.000000y
q3a6/ss = +0.000000x +1.000000y

q3a7/min_fs = 1358
q3a7/max_fs = 1551
q3a7/min_ss = 555
q3a7/max_ss = 739
q3a7/corner_x = 584
q3a7/corner_y = -201
q3a7/fs = -1.000000x +0.000000y
q3a7/ss = +0.000000x +1.000000y

q3a8/min_fs = 1164
q3a8/max_fs = 1357
q3a8/min_ss = 740
q3a8/max_ss = 924
q3a8/corner_x = 768
q3a8/corner_y = -390
q3a8/fs = -0.000000x -1.000000y
q3a8/ss = -1.000000x +0.000000y

q3a9/min_fs = 1358
q3a9/max_fs = 1551
q3a9/min_ss = 740
q3a9/max_ss = 924
q3a9/corner_x = 768
q3a9/corner_y = -587
q3a9/fs = -0.000000x -1.000000y
q3a9/ss = -1.000000x +0.000000y

q3a10/min_fs = 1164
q3a10/max_fs = 1357
q3a10/min_ss = 925
q3a10/max_ss = 1109
q3a10/corner_x = 579
q3a10/corner_y = -390
q3a10/fs = -0.000000x -1.000000y
q3a10/ss = -1.000000x +0.000000y

q3a11/min_fs = 1358
q3a11/max_fs = 1551
q3a11/min_ss = 925
q3a11/max_ss = 1109
q3a11/corner_x = 579
q3a11/corner_y = -587
q3a11/fs = -0.000000x -1.000000y
q3a11/ss = -1.000000x +0.000000y

q3a12/min_fs = 1164
q3a12/max_fs = 1357
q3a12/min_ss = 1110
q3a12/max_ss = 1294
q3a12/corner_x = 403
q3a12/corner_y = -768
q3a12/fs = -1.000000x +0.000000y
q3a12/ss = +0.000000x +1.000000y

q3a13/min_fs = 1358
q3a13/max_fs = 1551
q3a13/min_ss = 1110
q3a13/max_ss = 1294
q3a13/corner_x = 206
q3a13/corner_y = -768
q3a13/fs = -1.000000x +0.000000y
q3a13/ss = +0.000000x +1.000000y

q3a14/min_fs = 1164
q3a14/max_fs = 1357
q3a14/min_ss = 1295
q3a14/max_ss = 1479
q3a14/corner_x = 403
q3a14/corner_y = -579
q3a14/fs = -1.000000x +0.000000y
q3a14/ss = +0.000000x +1.000000y

q3a15/min_fs = 1358
q3a15/max_fs = 1551
q3a15/min_ss = 1295
q3a15/max_ss = 1479
q3a15/corner_x = 206
q3a15/corner_y = -579
q3a15/fs = -1.000000x +0.000000y
q3a15/ss = +0.000000x +1.000000y

