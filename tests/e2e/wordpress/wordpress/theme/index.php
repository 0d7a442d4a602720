<!doctype html>
<html><head><?php wp_head(); ?></head><body>
<?php
while ( have_posts() ) {
	the_post();
	echo '<h1>', esc_html( get_the_title() ), '</h1>';
	if ( is_singular() ) {
		comment_form();
	}
}
wp_footer();
?>
</body></html>
